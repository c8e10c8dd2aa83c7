"""Resident memory of the lean encoder over many batch shapes: bucketed row counts against exact ones.

    python benchmarks/memory_shapes.py --run RUN [--batches 300] [--precision bf16]

oneDNN compiles and caches kernels for every matmul shape it meets. A service sees batches of every
size, so an encoder that fed each batch's own row count to its linear layers would grow with each new
shape. ``ie.models.lean_bert.bucket`` rounds row counts to a bounded set. This script runs the NER encoder of
RUN on ``--batches`` random batches (random widths up to 128, random batch sizes within 2,048 tokens,
random padding), once as shipped and once with bucketing turned off. Each run is a fresh process, and
the script prints resident memory after loading and after every 50 batches.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def worker(run: str, precision: str, batches: int, exact: bool) -> None:
    import torch

    sys.path.insert(0, str(ROOT))
    from ie.models import lean_bert

    if exact:
        lean_bert.bucket = lambda rows: rows  # every batch's own row count reaches the matmuls
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    model = lean_bert.load(Path(run) / "ner", dtype)
    print(f"loaded: RSS {rss_mib()[0]:.0f} MiB", flush=True)
    rng = random.Random(0)
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(1, batches + 1):
            width = rng.choice(range(8, 129, 8))
            ids = torch.randint(1000, 2000, (rng.randint(1, 2048 // width), width))
            lengths = torch.randint(max(1, width - 7), width + 1, (len(ids),))
            mask = (torch.arange(width)[None, :] < lengths[:, None]).long()
            model(ids, mask)
            if i % 50 == 0:
                now, peak = rss_mib()
                print(
                    f"{i} batches: RSS {now:.0f} MiB, peak {peak:.0f} MiB, {time.perf_counter() - start:.1f} s",
                    flush=True,
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", required=True, help="run folder with a ner/ checkpoint")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    ap.add_argument("--batches", type=int, default=300)
    ap.add_argument("--worker", choices=("bucketed", "exact"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.run, args.precision, args.batches, args.worker == "exact")
        return
    for mode in ("bucketed", "exact"):
        print(f"== row counts {mode} ({args.precision})", flush=True)
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--run",
                args.run,
                "--precision",
                args.precision,
                "--batches",
                str(args.batches),
                "--worker",
                mode,
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
