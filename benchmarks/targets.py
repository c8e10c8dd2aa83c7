"""Issue 29's speed targets, on the seed articles, in both CPU modes, in one command:

    python benchmarks/targets.py --run RUN [--student-run RUN] [--shared-run RUN] [--docs 60] [--repeats 3]

``benchmarks/speed.py`` runs once per mode: with the machine as it is (``native``) and with oneDNN limited
to AVX2 (``avx2``: ``ONEDNN_MAX_CPU_ISA=AVX2``, where bf16 is emulated, as on a CPU without native bf16).
Each writes its full report to ``docs/benchmarks_<mode>.{json,md}``; this script then writes the targets
table of both modes to ``docs/benchmarks.md`` (``--from-json`` re-renders it from those two JSONs,
measuring nothing). The native run also scores each backend and precision on the run's test split (the
F1 rows); give the run its ONNX export first (``python -m ie.export run=RUN quantize=int8``) so the onnx
rows are measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: this checkout's benchmarks/, not an installed one
    sys.path.insert(0, str(ROOT))

from benchmarks.report import find, ratio  # noqa: E402

MODES = {"native": {}, "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"}}
# what the targets read: the seed articles, our Predictor's engines and the pipeline's fp32 NER
ONLY = r"seeds (ours|ours-onnx|ours-student(-onnx)?|ours-shared(-onnx)?|pipeline) ner(\+re)? (fp32|bf16|int8)$"
# the Predictor of --run on either backend: torch (lean) or its ONNX export, which backend=auto takes where the
# export measured faster on this CPU. The student and the shared encoder are other models: each its own table, never
# a target row.
OURS = ("ours", "ours-onnx")
# (measure, target, threshold): the rows of issue 29's table; F1 has its own rows below
TARGETS = [
    ("ours NER fp32 / pipeline NER fp32", ">= 3x", 3.0),
    ("ours NER+RE fp32 / pipeline NER fp32", ">= 2x", 2.0),
    ("best precision NER+RE (any backend) / pipeline NER fp32", ">= 4x", 4.0),
    ("encoder share of the fp32 matmul peak (ours NER fp32)", ">= 60%", 0.60),
]
# other runs timed beside --run (speed.py's engine -> the argument naming the run), each in a table of its own
OPTIONS = {"ours-student": "student_run", "ours-shared": "shared_run"}
OPTION_TITLES = {"ours-student": "The smaller encoder", "ours-shared": "One encoder for NER and RE"}
F1_BOUNDS = {"fp32": 0.3, "bf16": 0.3, "int8": 0.5}  # points, largest |change| from fp32 on transformers


def paths(mode: str) -> tuple[Path, Path]:
    """Relative to the checkout (speed.py runs there): the command each report records names no machine's path."""
    return Path("docs") / f"benchmarks_{mode}.json", Path("docs") / f"benchmarks_{mode}.md"


def measure(args, mode: str) -> None:
    """``speed.py`` in a process of its own, under ``mode``'s environment."""
    json_path, md_path = paths(mode)
    command = [
        sys.executable,
        "benchmarks/speed.py",
        "--run",
        args.run,
        "--only",
        ONLY,
        "--docs",
        str(args.docs),
        "--repeats",
        str(args.repeats),
        "--skip-training",
        "--json",
        str(json_path),
        "--markdown",
        str(md_path),
    ]
    for attr in OPTIONS.values():
        if getattr(args, attr):
            command += [_flag(attr), getattr(args, attr)]
    if mode != "native":
        command.append("--skip-f1")  # scores do not depend on the ISA oneDNN uses for fp32; the native run has them
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"} | MODES[mode]
    print(f"{mode}: {shlex.join(command[1:])}", flush=True)
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if done.returncode:  # its own error is printed above; what it measured so far is in its JSON ("complete": false)
        sys.exit(
            f"targets.py: error: speed.py failed in the {mode} mode (exit {done.returncode}); the measurements "
            f"it finished are in {json_path}"
        )


def _fastest(results, tasks, precisions=None):
    rows = [
        r
        for r in results
        if "error" not in r
        and r["corpus"] == "seeds"
        and r["engine"] in OURS
        and r["tasks"] == tasks
        and (precisions is None or r["precision"] in precisions)
    ]
    return max(rows, key=lambda r: r["docs_per_s"], default=None)


def values(report: dict) -> dict[str, tuple[float | None, str | None]]:
    """Each target's measured value, and the configuration it was measured on (engine and precision)."""
    res = report["inference"]
    pipe = find(res, "seeds", "pipeline", ["ner"], "fp32")
    ner, both = _fastest(res, ["ner"], ("fp32",)), _fastest(res, ["ner", "re"], ("fp32",))
    best = _fastest(res, ["ner", "re"])

    def named(row):
        return row and f"{row['engine']} {row['precision']}"

    return {
        TARGETS[0][0]: (ratio(ner, pipe), named(ner)),
        TARGETS[1][0]: (ratio(both, pipe), named(both)),
        TARGETS[2][0]: (ratio(best, pipe), named(best)),
        TARGETS[3][0]: (ner and ner.get("share_of_peak"), named(ner)),
    }


def f1_rows(report: dict) -> list[tuple[str, str, str, bool]]:
    """Per precision, the largest |F1 change| of any backend from fp32 on the transformers classes."""
    out = []
    for precision, bound in F1_BOUNDS.items():
        changes = [
            (abs(c), f"{r['backend']}, {metric}")
            for r in report.get("f1", [])
            if r["precision"] == precision
            for metric, c in r["change"].items()
        ]
        if changes:
            largest, where = max(changes)
            out.append(
                (
                    f"F1 change, {precision} (run's test split)",
                    f"<= {bound} points",
                    f"{largest:.2f} ({where if largest else 'every backend'})",
                    largest <= bound,
                )
            )
    return out


def machine_line(mode: str, report: dict) -> str:
    m = report["machine"]
    return (
        f"{mode}: {m['cpu']}, CPU capability {m['cpu_capability']}, ONEDNN_MAX_CPU_ISA="
        f"{m.get('onednn_max_cpu_isa') or 'unset'}, bf16 {'native' if m['bf16_native'] else 'emulated'}, "
        f"fp32 matmul peak {m['fp32_gflops']:.0f} GFLOP/s"
    )


def markdown(reports: dict[str, dict], command: str) -> str:
    modes = list(reports)
    lines = [
        "# Speed benchmarks: the targets of issue 29",
        "",
        "Written by `benchmarks/targets.py`; command:",
        "",
        f"    {command}",
        "",
        "The full report of each mode (every configuration, padding, memory, agreement):",
        *[
            f"[benchmarks_{m}.md](benchmarks_{m}.md)" + (";" if i < len(modes) - 1 else ".")
            for i, m in enumerate(modes)
        ],
        "",
        *[f"* {machine_line(m, r)}" for m, r in reports.items()],
        "",
        "| measure | target | " + " | ".join(modes) + " | met |",
        "|---|---|" + "---|" * (len(modes) + 1),
    ]
    measured = {m: values(r) for m, r in reports.items()}
    for name, target, threshold in TARGETS:
        cells, met = [], []
        for m in modes:
            value, what = measured[m][name]
            if value is None:
                cells.append("-")
                continue
            shown = f"{value:.0%}" if target.endswith("%") else f"{value:.2f}x"
            cells.append(f"{shown} ({what})")
            met.append(value >= threshold)
        lines.append(f"| {name} | {target} | " + " | ".join(cells) + f" | {_met(met)} |")
    for m, r in reports.items():
        for name, target, shown, ok in f1_rows(r):
            lines.append(
                f"| {name} | {target} | " + " | ".join(shown if x == m else "-" for x in modes) + f" | {_met([ok])} |"
            )
    for engine, attr in OPTIONS.items():
        lines += _option_table(reports, engine, _flag(attr))
    lines += [
        "",
        "Ratios are documents per second on the seed articles, each configuration in a fresh process, both "
        "sides measured in the same run of the same mode. The pipeline is `transformers.pipeline` on the "
        "run's NER checkpoint in fp32. Ours is the run's Predictor on torch (`ours`, the lean encoder) or on "
        "its ONNX export (`ours-onnx`), whichever was faster; the cell names it. The F1 rows score the run's "
        "test split with each backend and precision against fp32 on the transformers classes. "
        "`ONEDNN_MAX_CPU_ISA` limits oneDNN, that is torch: ONNX Runtime picks its kernels from the CPU "
        "whatever it says, so `ours-onnx` in the avx2 column still runs AVX-512 where the CPU has it. Notes "
        "on the method: the full reports.",
        "",
    ]
    return "\n".join(lines)


def _flag(attr: str) -> str:
    return "--" + attr.replace("_", "-")


def _option_table(reports: dict[str, dict], engine: str, flag: str) -> list[str]:
    """The ratios of another run's Predictor (``engine``, measured with ``flag``) against the same pipeline."""
    modes = list(reports)
    found = {
        m: [k for k in r["ratios"] if (f" {engine} " in k or f" {engine}-onnx " in k) and "best" not in k]
        for m, r in reports.items()
    }
    if not any(found.values()):
        return []
    lines = [
        "",
        f"{OPTION_TITLES[engine]} of `{flag}` (an option, not the default), against the same pipeline:",
        "",
        "| ratio | " + " | ".join(modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for key in next(v for v in found.values() if v):
        lines.append(
            f"| {key.removeprefix('seeds: ')} | "
            + " | ".join(f"{reports[m]['ratios'][key]:.2f}x" if key in reports[m]["ratios"] else "-" for m in modes)
            + " |"
        )
    return lines


def _met(flags: list[bool]) -> str:
    return "-" if not flags else "yes" if all(flags) else "no" if not any(flags) else "in some modes"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", help="run folder: NER and RE checkpoints (and its onnx/ export)")
    ap.add_argument("--student-run", help="a run with a smaller encoder, measured beside the default")
    ap.add_argument("--shared-run", help="a run with one encoder for NER and RE, measured beside the default")
    ap.add_argument("--docs", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--markdown", default="docs/benchmarks.md")
    ap.add_argument("--from-json", action="store_true", help="re-render --markdown from the modes' JSON files")
    args = ap.parse_args(argv)
    if not args.from_json:
        if not args.run:
            ap.error("--run is required")
        for mode in args.modes:
            measure(args, mode)
    reports = {m: json.loads((ROOT / paths(m)[0]).read_text(encoding="utf-8")) for m in args.modes}
    command = reports[args.modes[0]].get("targets_command") or shlex.join(
        ["python", "benchmarks/targets.py", *(argv if argv is not None else sys.argv[1:])]
    )
    if not args.from_json:
        for m in args.modes:  # the command that made them, for --from-json
            reports[m]["targets_command"] = command
            (ROOT / paths(m)[0]).write_text(
                json.dumps(reports[m], indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
    Path(args.markdown).write_text(markdown(reports, command), encoding="utf-8")
    print(Path(args.markdown).read_text(encoding="utf-8"))
    return reports


if __name__ == "__main__":
    main()
