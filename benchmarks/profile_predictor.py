"""Where a Predictor call spends its time, by stage: what is left to win once the speed levers are in.

    python benchmarks/profile_predictor.py --run RUN [--tasks ner re] [--precision fp32] [--backend lean] [--docs 30]

Runs ``Predictor.predict`` on the seed articles repeated to ``--docs`` documents once to warm up, then once
under cProfile, and prints the share of the wall time of each stage: the encoder's matmuls and its other
ops (attention, GELU, LayerNorm, the rest of the lean forward), relation pooling, and the steps around the
models (sentence splitting, tokenisation and windows, decoding). cProfile sees Python frames, so a stage is
the time inside the named functions; what no stage claims is listed as the rest.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# stage -> (file suffix, function name) of the frames whose time it takes: own time for built-ins, cumulative
# time for Python functions (which then must not nest inside another stage's)
STAGES = {
    "encoder: matmuls": [("~", "<built-in method torch._C._nn.linear>")],
    "encoder: attention": [("~", "<built-in method torch._C._nn.scaled_dot_product_attention>")],
    "encoder: GELU": [("~", "<built-in method torch._C._nn.gelu>")],
    "encoder: LayerNorm": [("~", "<built-in method torch.layer_norm>")],
    "relation pooling": [("ie/models/pooling.py", "range_max")],
    "sentence splitting": [("ie/data/text.py", "split_sentences")],
    "tokenisation and windows": [
        ("ie/inference/predictor.py", "_ner_windows"),
        ("ie/encoding/markers.py", "reachable_pairs"),
    ],
    "decoding": [("ie/inference/decoding.py", "decode_many")],
}
ENCODER_FORWARD = ("ie/models/lean_bert.py", "packed")  # the whole lean encoder: the rest of it is "encoder: other"


def profile(run: str, tasks: tuple[str, ...], precision: str, backend: str, docs: int) -> dict:
    from benchmarks.measure_inference import seed_documents
    from ie.inference.predictor import Predictor

    predictor = Predictor.from_pretrained(run, precision=precision, tasks=tasks, backend=backend)
    texts = seed_documents(docs)
    predictor.predict(texts)  # warm-up: kernels for these shapes
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    predictor.predict(texts)
    profiler.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, primitive, own, cumulative, callers)

    def seconds(file: str, name: str) -> float:
        own = file == "~"
        return sum(
            v[2] if own else v[3]
            for (f, _, n), v in stats.items()
            if n == name and (f == file if own else f.endswith(file))
        )

    shares = {stage: sum(seconds(*frame) for frame in frames) for stage, frames in STAGES.items()}
    encoder = seconds(*ENCODER_FORWARD)
    if encoder:
        shares["encoder: other ops"] = max(0.0, encoder - sum(v for k, v in shares.items() if k.startswith("encoder:")))
    shares["the rest"] = max(0.0, wall - sum(shares.values()))
    # across the stages: the NER pass and the RE pass (each with its own encoder), which add up to the call
    by_task = {
        "NER (word_tags)": seconds("ie/inference/predictor.py", "word_tags"),
        "RE (classify_pairs)": seconds("ie/inference/pair_reading.py", "classify_pairs"),
    }
    return {
        "wall_seconds": wall,
        "docs": docs,
        "seconds": shares,
        "by_task": by_task,
        "backend": predictor.backends,
        "precision": predictor.precision,
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--tasks", nargs="+", default=["ner", "re"])
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--backend", default="lean")
    ap.add_argument("--docs", type=int, default=30)
    args = ap.parse_args(argv)
    result = profile(args.run, tuple(args.tasks), args.precision, args.backend, args.docs)
    print(f"{result['docs']} documents in {result['wall_seconds']:.2f} s ({result['precision']}, {result['backend']})")
    print("| stage | seconds | share |\n|---|---:|---:|")
    for stage, s in sorted(result["seconds"].items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {s:.2f} | {s / result['wall_seconds']:.0%} |")
    print("\n| task | seconds | share |\n|---|---:|---:|")
    for task, s in result["by_task"].items():
        print(f"| {task} | {s:.2f} | {s / result['wall_seconds']:.0%} |")
    return result


if __name__ == "__main__":
    main()
