"""Which int8 quantisation to ship: each variant of ONNX Runtime's dynamic quantisation against the fp32 graph.

    python benchmarks/int8_variants.py --run RUN [--texts seeds/*.txt] [--markdown FILE]

``RUN`` must hold an export (``python -m ie.export run=RUN``). Each variant quantises the run's fp32 graphs
into a copy of the export, and the Predictor (``backend="onnx"``, ``precision="int8"``) reads the texts
with it. Reported: how many entities and relations differ from what the fp32 graph finds on the same texts
(label and offsets; a relation also by its arguments), and the graph sizes. No label is read, so the texts
may be any the model was not tuned on; the default is the seed articles' raw text.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# name -> quantize_dynamic options (weights QInt8 in all); without op_types_to_quantize it quantises every op
# it can, the embedding Gathers included
VARIANTS = {
    "default (per-tensor)": {},
    "per-channel": {"per_channel": True},
    "per-channel, reduce_range": {"per_channel": True, "reduce_range": True},
    "per-channel, MatMul only": {"per_channel": True, "op_types_to_quantize": ["MatMul"]},
    "per-channel, MatMul only, reduce_range": {"per_channel": True, "op_types_to_quantize": ["MatMul"],
                                               "reduce_range": True},
}


def found(predictor, texts: list[str]) -> tuple[set, set]:
    entities, relations = set(), set()
    for d, prediction in enumerate(predictor.predict(texts)):
        entities |= {(d, e.label, e.start, e.end) for e in prediction.entities}
        relations |= {(d, r.label, r.head.start, r.head.end, r.tail.start, r.tail.end) for r in prediction.relations}
    return entities, relations


def compare(run: Path, texts: list[str]) -> list[dict]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from ie.inference.onnx_backend import GRAPHS, export_dir
    from ie.inference.onnx_export import INT8_OPTIONS
    from ie.inference.predictor import Predictor

    source = export_dir(run)
    reference = found(Predictor.from_pretrained(source, backend="onnx", precision="fp32"), texts)
    rows = [{"variant": "fp32 (the reference)", "entities": len(reference[0]), "relations": len(reference[1])}]
    with tempfile.TemporaryDirectory(prefix="int8-") as tmp:
        for name, options in VARIANTS.items():
            copy = Path(tmp) / "export"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns(GRAPHS["int8"]))
            sizes = []
            for task_dir in sorted(p for p in copy.iterdir() if (p / GRAPHS["fp32"]).exists()):
                target = task_dir / GRAPHS["int8"]
                quantize_dynamic(str(task_dir / GRAPHS["fp32"]), str(target), weight_type=QuantType.QInt8, **options)
                sizes.append(target.stat().st_size / 1e6)
            entities, relations = found(Predictor.from_pretrained(copy, backend="onnx", precision="int8"), texts)
            rows.append({"variant": name + (" (shipped)" if options == INT8_OPTIONS else ""),
                         "entities_changed": len(entities ^ reference[0]),
                         "relations_changed": len(relations ^ reference[1]), "mb_per_graph": max(sizes)})
            print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict], command: str) -> str:
    ref, variants = rows[0], rows[1:]
    lines = [f"`{command}`", "",
             f"Against the fp32 graph's {ref['entities']} entities and {ref['relations']} relations on the same texts "
             "(the symmetric difference: found by one and not the other):", "",
             "| int8 variant | entities changed | relations changed | MB per graph |", "|---|---:|---:|---:|"]
    lines += [f"| {r['variant']} | {r['entities_changed']} | {r['relations_changed']} | {r['mb_per_graph']:.0f} |"
              for r in variants]
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
