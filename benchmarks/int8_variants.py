"""Which int8 quantisation to ship: each variant against the fp32 graph, and against itself under batching.

    python benchmarks/int8_variants.py --run RUN [--texts seeds/*.txt] [--markdown FILE]

``RUN`` must hold an export (``python -m ie.export run=RUN``) and its config (the static variants calibrate
on sentences of its training split, as ``ie.export`` does). Each variant quantises the run's fp32 graphs
into a copy of the export, and the Predictor (``backend="onnx"``, ``precision="int8"``) reads the texts
with it, all in one call and then one text per call. Reported: how many entities and relations differ from
what the fp32 graph finds on the same texts (label and offsets; a relation also by its arguments), how many
differ between the two ways of batching, and the graph sizes. No label is read, so the texts may be any the
model was not tuned on; the default is the seed articles' raw text.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# name -> (quantize_dynamic options, or None for static; for static, the op types it quantises; whether the
# Predictor reads one window per call, as it does for a dynamic graph)
VARIANTS = {
    "dynamic, per-tensor": ({}, None, False),
    "dynamic, per-channel": ({"per_channel": True}, None, False),
    "dynamic, per-channel, MatMul only": ({"per_channel": True, "op_types_to_quantize": ["MatMul"]}, None, False),
    "dynamic, per-channel, one window per call": ({"per_channel": True}, None, True),
    "static, MatMul only": (None, ["MatMul"], False),
    "static, MatMul and Gather": (None, ["MatMul", "Gather"], False),
}


def found(predictor, texts: list[str], one_per_call: bool = False) -> tuple[set, set]:
    predictions = [p for text in texts for p in predictor.predict([text])] if one_per_call else predictor.predict(texts)
    entities, relations = set(), set()
    for d, prediction in enumerate(predictions):
        entities |= {(d, e.label, e.start, e.end) for e in prediction.entities}
        relations |= {(d, r.label, r.head.start, r.head.end, r.tail.start, r.tail.end) for r in prediction.relations}
    return entities, relations


def quantize_copy(run: Path, copy: Path, dynamic: dict | None, static_ops: list | None, feeds: dict | None) -> float:
    """The run's export in ``copy`` with its int8 graphs made by one variant (a static one from ``feeds``, the
    fp32 graphs' recorded calibration inputs per task); the largest graph's MB."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from ie.inference import onnx_quantize
    from ie.inference.onnx_backend import GRAPHS, export_dir

    shutil.copytree(export_dir(run), copy, ignore=shutil.ignore_patterns(GRAPHS["int8"]))
    tasks = sorted(p for p in copy.iterdir() if (p / GRAPHS["fp32"]).exists())
    for task_dir in tasks:
        source, target = task_dir / GRAPHS["fp32"], task_dir / GRAPHS["int8"]
        if dynamic is not None:
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, **dynamic)
        else:
            onnx_quantize.quantize(source, target, feeds[task_dir.name], op_types=static_ops)
    return max((t / GRAPHS["int8"]).stat().st_size for t in tasks) / 1e6


def calibration_feeds(run: Path) -> dict:
    """What ``ie.export calibration=train`` calibrates on: the fp32 graphs' inputs on 256 training sentences."""
    from ie.inference import onnx_quantize
    from ie.inference.onnx_backend import export_dir

    sentences, _ = onnx_quantize.calibration_sentences(run, "train", 256)
    return onnx_quantize.calibration_feeds(export_dir(run), sentences)


def shipped(dynamic: dict | None, one_window: bool) -> bool:
    """What ``python -m ie.export quantize=int8`` makes and the Predictor runs by default."""
    from ie.inference import onnx_quantize

    return dynamic == onnx_quantize.DYNAMIC_OPTIONS and one_window


def compare(run: Path, texts: list[str]) -> list[dict]:
    from ie.inference.onnx_backend import export_dir
    from ie.inference.predictor import Predictor

    reference = found(Predictor.from_pretrained(export_dir(run), backend="onnx", precision="fp32"), texts)
    rows = [{"variant": "fp32 (the reference)", "entities": len(reference[0]), "relations": len(reference[1])}]
    feeds = calibration_feeds(run) if any(dynamic is None for dynamic, _, _ in VARIANTS.values()) else None
    built: dict[str, tuple[Path, float]] = {}  # graphs by how they were quantised: variants may differ only in use
    with tempfile.TemporaryDirectory(prefix="int8-") as tmp:
        for name, (dynamic, static_ops, one_window) in VARIANTS.items():
            key = json.dumps([dynamic, static_ops], sort_keys=True)
            if key not in built:
                copy = Path(tmp) / str(len(built))
                built[key] = copy, quantize_copy(run, copy, dynamic, static_ops, feeds)
            copy, size = built[key]
            predictor = Predictor.from_pretrained(copy, backend="onnx", precision="int8")
            predictor._windows_per_call = dict.fromkeys(predictor._windows_per_call, 1 if one_window else None)
            entities, relations = found(predictor, texts)
            alone = found(predictor, texts, one_per_call=True)
            rows.append(
                {
                    "variant": name + (" (shipped)" if shipped(dynamic, one_window) else ""),
                    "entities_changed": len(entities ^ reference[0]),
                    "relations_changed": len(relations ^ reference[1]),
                    "entities_batch_dependent": len(entities ^ alone[0]),
                    "relations_batch_dependent": len(relations ^ alone[1]),
                    "mb_per_graph": size,
                }
            )
            print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict], command: str) -> str:
    ref, variants = rows[0], rows[1:]
    lines = [
        f"`{command}`",
        "",
        f"Against the fp32 graph's {ref['entities']} entities and {ref['relations']} relations on the same texts "
        "(the symmetric difference: found by one and not the other), and between all texts in one call and "
        "one text per call:",
        "",
        "| int8 variant | entities changed | relations changed | changed by batching (entities / relations) "
        "| MB per graph |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['variant']} | {r['entities_changed']} | {r['relations_changed']} | "
        f"{r['entities_batch_dependent']} / {r['relations_batch_dependent']} | {r['mb_per_graph']:.0f} |"
        for r in variants
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path, help="run folder with an export (python -m ie.export)")
    parser.add_argument("--texts", nargs="+", type=Path, default=sorted((ROOT / "seeds").glob("*.txt")))
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args()
    texts = [p.read_text(encoding="utf-8") for p in args.texts]
    rows = compare(args.run, texts)
    command = "python benchmarks/int8_variants.py " + " ".join(sys.argv[1:])
    report = markdown(rows, command)
    print(report)
    if args.markdown:
        args.markdown.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
