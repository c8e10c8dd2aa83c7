"""Speed of our Predictor and training against the plain Hugging Face way, in one run.

    python benchmarks/speed.py --run RUN [--conll04-run RUN2] [--batch-size 32] [--docs 100]
        [--json docs/benchmarks.json] [--markdown docs/benchmarks.md] [--skip-training]

A run with its ONNX export (``python -m ie.export run=RUN quantize=int8``) also gets the ``ours-onnx``
rows (fp32 and int8, ONNX Runtime) and their F1 changes. Their workers run as a serving install without
torch would: torch and transformers cannot be imported there (spaCy would otherwise load torch through
thinc, about 220 MiB).

Every configuration runs in a fresh process of this script (``--worker``), so its peak resident
memory is its own. Inputs: the seed articles repeated to ``--docs`` documents, and the 288 CoNLL04
test sentences as short documents (text = tokens joined by single spaces, as ``ie.data.formats.conll04`` reads
them). Words are whitespace-split words. Times include sentence splitting, tokenisation, batching
and aggregation. The baseline is ``transformers.pipeline("token-classification",
aggregation_strategy="simple")`` over the same NER checkpoint, reading long documents in windows of
the tokenizer's ``model_max_length`` with ``stride=`` the checkpoint's stride. Measuring:
``measure_inference.py``, ``measure_training.py``; the report and its bars: ``report.py``, ``bars.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: this checkout's ie/ and benchmarks/, not installed ones
    sys.path.insert(0, str(ROOT))

from benchmarks.agreement import diff_lines  # noqa: E402
from benchmarks.measure_inference import (  # noqa: E402
    PIPELINE_PRECISIONS,
    conll04_documents,
    f1_changes,
    machine_peak,
    measure_inference,
    seed_documents,
    without_torch,
    words,
)
from benchmarks.measure_training import measure_training  # noqa: E402
from benchmarks.report import f1_table, markdown, merge_peaks, optimisations, summarise, tables, training_ratios  # noqa: E402

# --- workers -------------------------------------------------------------------------------------


def worker(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    if spec.get("engine", "").endswith("-onnx"):
        without_torch()
    out = measure_inference(spec) if spec["kind"] == "infer" else measure_training(spec)
    out["peak_rss_mib"] = peak_rss_mib()
    Path(out_path).write_text(json.dumps(out))


def peak_rss_mib() -> float:
    """This process's own peak resident memory: Linux's VmHWM. Not ``ru_maxrss``: a process started by fork
    and exec keeps there the resident size its parent had at the fork (the kernel carries the old address
    space's high-water mark over exec), so every worker read at least the ~330-390 MiB of this script."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def run_worker(spec: dict) -> dict:
    """``spec`` measured in a fresh process of this script; failures are reported, not raised."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        spec = {**spec, "tmp": tmp}
        (Path(tmp) / "spec.json").write_text(json.dumps(spec))
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", f"{tmp}/spec.json", f"{tmp}/out.json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode:
            return {
                "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}",
                "stderr_tail": proc.stderr[-3000:],
            }
        return json.loads((Path(tmp) / "out.json").read_text())


# --- what to measure -------------------------------------------------------------------------------


def with_bf16(args) -> bool:
    """Whether to measure the bf16 rows: where bf16 is native, or where it is emulated when asked
    (``--emulated-bf16``: 65x slower matmuls, hours for the whole table)."""
    from ie.precision import bf16_native

    native, why = bf16_native("cpu")
    if not native and not args.emulated_bf16:
        print(f"bf16 rows skipped: {why} (--emulated-bf16 measures them anyway)", flush=True)
    return native or args.emulated_bf16


# engines that time another run than --run on the seeds, and the argument that names it
OPTION_RUNS = {"ours-student": "student_run", "ours-shared": "shared_run"}


def inference_specs(args, bf16: bool = True) -> list[tuple[str, dict]]:
    seeds, conll = seed_documents(args.docs), conll04_documents()
    corpora = [
        ("seeds", seeds, Path(args.run), min(args.docs, 5), 0),
        ("conll04", conll, Path(args.conll04_run or args.run), len(conll), args.latency_calls),
    ]
    specs = []
    for corpus, texts, run, unique, latency in corpora:
        common = {
            "kind": "infer",
            "run": str(run),
            "corpus": corpus,
            "texts": texts,
            "unique": unique,
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "latency_calls": latency,
            "docs": len(texts),
            "words": words(texts),
        }
        ours = ("fp32", "bf16") if bf16 else ("fp32",)
        engines = [("ours", p, ["ner"]) for p in ours]
        if (run / "re").is_dir():
            engines += [("ours", p, ["ner", "re"]) for p in ours] + [("ours-hf", ours[-1], ["ner", "re"])]
        if (run / "onnx" / "manifest.json").exists():  # python -m ie.export run=RUN quantize=int8
            engines += [("ours-onnx", p, ["ner"]) for p in ("fp32", "int8")]
            if (run / "re").is_dir():
                engines += [("ours-onnx", p, ["ner", "re"]) for p in ("fp32", "int8")]
        engines += [("pipeline", p, ["ner"]) for p in PIPELINE_PRECISIONS if bf16 or PIPELINE_PRECISIONS[p] == "fp32"]
        runs = {}  # engines that read another run than the corpus's
        for engine, other in OPTION_RUNS.items():  # another model's run, against the same pipeline
            if getattr(args, other) and corpus == "seeds":
                runs[engine] = runs[f"{engine}-onnx"] = option = Path(getattr(args, other))
                tasks_of = [["ner"], ["ner", "re"]] if (option / "re").is_dir() else [["ner"]]
                engines += [(engine, p, tasks) for tasks in tasks_of for p in ours]
                if (option / "onnx" / "manifest.json").exists():  # and on its export
                    engines += [(f"{engine}-onnx", p, tasks) for tasks in tasks_of for p in ("fp32", "int8")]
        for engine, precision, tasks in engines:
            specs.append(
                (
                    f"{corpus} {engine} {'+'.join(tasks)} {precision}",
                    {
                        **common,
                        "run": str(runs.get(engine, run)),
                        "engine": engine,
                        "precision": precision,
                        "tasks": tasks,
                    },
                )
            )
    return specs


def training_specs(args, bf16: bool = True) -> list[tuple[str, dict]]:
    specs = []
    for task in ["ner"] + (["re"] if not args.skip_re_training else []):
        # the last one is ours with torch's own dropout: what ie/models/dropout.py buys
        for impl, precision, variant, extra in (
            ("plain", "fp32", None, []),
            *([("plain", "bf16", None, [])] if bf16 else []),
            ("ours", "config", None, []),
            ("ours", "config", "torch-dropout", ["trainer.fast_dropout=false"]),
        ):
            specs.append(
                (
                    f"train {task} {impl} {variant or precision}",
                    {
                        "kind": "train",
                        "task": task,
                        "impl": impl,
                        "precision": precision,
                        "variant": variant,
                        "steps": args.train_steps,
                        "batch_size": args.train_batch_size,
                        "overrides": args.train_overrides + extra,
                    },
                )
            )
    return specs


# --- orchestration ---------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", help="run folder: NER (and RE) checkpoints")
    ap.add_argument("--conll04-run", help="run trained on CoNLL04 for the CoNLL04 input (default: --run)")
    ap.add_argument(
        "--student-run",
        help="a run with a smaller encoder (fewer layers): its Predictor on the seeds, "
        "as engine ours-student, against the pipeline of --run",
    )
    ap.add_argument(
        "--shared-run",
        help="a run with one encoder for NER and RE (model.shared_encoder): its "
        "Predictor on the seeds, as engine ours-shared, against the pipeline of --run",
    )
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--docs", type=int, default=100, help="seed articles repeated to this many documents")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes over each corpus (rates: the median)")
    ap.add_argument("--latency-calls", type=int, default=50)
    ap.add_argument("--peak-size", type=int, default=2048, help="side of the square matmul for the machine peak")
    ap.add_argument("--skip-inference", action="store_true")
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--skip-re-training", action="store_true")
    ap.add_argument("--skip-f1", action="store_true", help="skip the test-set F1 of each precision and backend")
    ap.add_argument(
        "--emulated-bf16",
        action="store_true",
        help="also measure the bf16 rows where bf16 is not "
        "native (emulated: ~65x slower matmuls); by default they run only where it is native",
    )
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--train-batch-size", type=int, default=16)
    ap.add_argument(
        "--train-overrides",
        nargs="*",
        default=[],
        help="extra Hydra overrides of the training config (both sides read data and model from it)",
    )
    ap.add_argument("--show-diffs", type=int, default=20, help="differences listed per comparison on the console")
    ap.add_argument(
        "--only",
        help="measure only the configurations whose name matches this regular expression "
        "(names as printed, e.g. 'seeds ours ner+re bf16', 'train re plain fp32')",
    )
    ap.add_argument("--json", help="write the full results (every difference) here")
    ap.add_argument("--markdown", help="write the report here")
    ap.add_argument("--from-json", help="write --markdown from a finished run's JSON, measuring nothing")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.worker and not args.run and not args.from_json:
        ap.error("--run is required")
    return args


def write(path: str | None, text: str) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")


def measure_all(specs, desc: str, only: str | None, report: dict, json_path: str | None) -> list[dict]:
    """Each selected configuration in its own process, a line per result as it comes, and the
    measurements so far in the JSON file (``"complete": false``) so a long run is never lost."""
    import re

    done = []
    for name, spec in tqdm([(n, s) for n, s in specs if not only or re.search(only, n)], desc=desc, unit="config"):
        r = {**spec, **run_worker(spec)}
        done.append(r)
        rate = r.get("docs_per_s", r.get("samples_per_s")) or 0
        tqdm.write(
            f"{name}: "
            + (f"failed: {r['error']}" if "error" in r else f"{rate:.1f}/s, peak RSS {r['peak_rss_mib']:.0f} MiB")
        )
        sys.stdout.flush()
        partial = {**report, f"{desc}_so_far": [{k: v for k, v in x.items() if k != "texts"} for x in done]}
        write(json_path, json.dumps({**partial, "complete": False}, indent=1, ensure_ascii=False))
    return done


def main(argv=None) -> dict | None:
    args = parse_args(argv)
    if args.worker:
        return worker(*args.worker)
    if args.from_json:
        report = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
        write(args.markdown, markdown(report, 50))
        return report
    report = {"command": shlex.join([Path(sys.executable).name, *sys.argv]), "machine": machine_peak(args.peak_size)}
    bf16 = with_bf16(args)
    specs = [] if args.skip_inference else inference_specs(args, bf16)
    results = measure_all(specs, "inference", args.only, report, args.json)
    report["machine"] = merge_peaks(report["machine"], machine_peak(args.peak_size))
    report["ratios"], report["agreement"] = summarise(results, report["machine"])
    report["inference"] = [{k: v for k, v in r.items() if k not in ("texts", "entities")} for r in results]
    if not args.skip_training:
        report["training"] = measure_all(training_specs(args, bf16), "training", args.only, report, args.json)
        report["training_ratios"] = training_ratios(report["training"])
    if not args.skip_f1:
        runs = {"seeds": args.run, "conll04": args.conll04_run or args.run}
        report["f1"] = f1_changes({k: v for k, v in runs.items() if (Path(v) / "config.yaml").exists()}, bf16)
    report["optimisations"] = optimisations(report)
    print(
        tables(report),
        "",
        *f1_table(report.get("f1", [])),
        "",
        *report["optimisations"],
        "",
        *diff_lines(report["agreement"], args.show_diffs),
        sep="\n",
    )
    write(args.json, json.dumps({**report, "complete": True}, indent=2, ensure_ascii=False) + "\n")
    write(args.markdown, markdown(report, 50))
    return report


if __name__ == "__main__":
    main()
