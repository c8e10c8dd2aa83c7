"""The benchmark report: ratios, tables, what each optimisation bought, and the pass/fail bars, which
are data (``benchmarks/bars.json``: each bar names what it reads and its threshold), rendered to
``docs/benchmarks.md`` from the JSON a run wrote (``--from-json`` re-renders it measuring nothing)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.agreement import agreement, diff_lines
from benchmarks.measure_inference import F1_METRICS, PIPELINE_PRECISIONS

BARS = Path(__file__).with_name("bars.json")


def find(results, corpus, engine, tasks, precision):
    return next(
        (
            r
            for r in results
            if (r["corpus"], r["engine"], r["tasks"], r["precision"]) == (corpus, engine, tasks, precision)
            and "error" not in r
        ),
        None,
    )


def ratio(a, b, key="docs_per_s"):
    return a[key] / b[key] if a and b and a.get(key) and b.get(key) else None


def merge_peaks(before: dict, after: dict) -> dict:
    """The machine measured before and after the inference runs: each peak is the better of the two
    (a busy moment only lowers it), both kept with the load averages."""
    out = dict(before)
    for key in ("fp32_gflops", "bf16_gflops", "load_average"):
        out[f"{key}_before_after"] = [before[key], after[key]]
        out[key] = max(before[key], after[key])
    return out


def summarise(results: list[dict], peak: dict) -> tuple[dict, dict]:
    for r in results:
        if "error" not in r:
            bits = "bf16" if PIPELINE_PRECISIONS.get(r["precision"], r["precision"]) == "bf16" else "fp32"
            r["share_of_peak"] = r["gflops_per_s"] / peak[f"{bits}_gflops"]
    ratios, agree = {}, {}
    for corpus in ("seeds", "conll04"):
        pipe = {p: find(results, corpus, "pipeline", ["ner"], p) for p in PIPELINE_PRECISIONS}
        bf16 = max(
            (pipe[p] for p in ("bf16_autocast", "bf16_weights") if pipe[p]), key=lambda r: r["docs_per_s"], default=None
        )
        for engine in ("ours", "ours-student", "ours-shared", "ours-student-onnx", "ours-shared-onnx"):
            for tasks in (["ner"], ["ner", "re"]):
                # the baseline as a user runs it (fp32), then each precision against its own kind
                for ours_p, their, name in (
                    ("bf16", pipe["fp32"], "fp32"),
                    ("fp32", pipe["fp32"], "fp32"),
                    ("int8", pipe["fp32"], "fp32"),
                    ("bf16", bf16, "best bf16"),
                ):
                    value = ratio(find(results, corpus, engine, tasks, ours_p), their)
                    if value:
                        ratios[f"{corpus}: {engine} {'+'.join(tasks)} {ours_p} / pipeline ner {name}"] = value
        ours32 = find(results, corpus, "ours", ["ner"], "fp32")
        texts = next(r["texts"] for r in results if r["corpus"] == corpus)[: ours32["unique"]] if ours32 else []
        if ours32 and pipe["fp32"]:
            agree[f"{corpus}: ours fp32 vs pipeline fp32"] = agreement(
                texts, ours32["entities"], pipe["fp32"]["entities"]
            )
        ours16 = find(results, corpus, "ours", ["ner"], "bf16")
        if ours32 and ours16:
            agree[f"{corpus}: ours bf16 vs ours fp32"] = agreement(
                texts, ours16["entities"], ours32["entities"], "fp32", "bf16"
            )
    return ratios, agree


def f1_table(rows: list[dict]) -> list[str]:
    names = list(F1_METRICS)
    lines = [
        "| test set | precision | backend | " + " | ".join(f"{n} F1 (change)" for n in names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for r in rows:
        cells = [f"{r['f1'][n]:.2f} ({r['change'][n]:+.2f})" if n in r["f1"] else "-" for n in names]
        lines.append(f"| {r['corpus']} | {r['precision']} | {r['backend']} | " + " | ".join(cells) + " |")
    return lines


def fmt(value, spec="{:.1f}"):
    return "-" if value is None else spec.format(value)


def tables(report: dict) -> str:
    m = report["machine"]
    bf16_size = m.get("bf16_matmul_size", m["matmul_size"])
    lines = [
        (
            f"Machine: {m['cpu']}, {m['threads']} torch threads, torch {m['torch']}"
            + (f", CPU capability {m['cpu_capability']}" if m.get("cpu_capability") else "")
            + (f", ONEDNN_MAX_CPU_ISA={m['onednn_max_cpu_isa']}" if m.get("onednn_max_cpu_isa") else "")
            + (
                f"; bf16 {'native' if m['bf16_native'] else 'emulated'} ({m['bf16_reason']}), so precision=auto "
                f"runs {m['precision_auto']}"
                if "bf16_native" in m
                else ""
            )
            + f"; matmul peak {m['fp32_gflops']:.0f} GFLOP/s fp32, {m['bf16_gflops']:.0f} GFLOP/s bf16 "
            + (
                f"({m['matmul_size']}^2, "
                if bf16_size == m["matmul_size"]
                else f"(fp32 {m['matmul_size']}^2, bf16 {bf16_size}^2 as it is emulated, "
            )
            + "best of 5); 1-min load average "
            f"{' then '.join(f'{x:.1f}' for x in m.get('load_average_before_after', [m['load_average']]))}"
        ),
        "",
        (
            "| corpus | engine | tasks | precision | docs/s | words/s | p50 ms | p95 ms | peak RSS MiB | padding "
            "| GFLOP/s | % of peak |"
        ),
        "|" + "---|" * 12,
    ]
    for r in report["inference"]:
        if "error" in r:
            lines.append(
                f"| {r['corpus']} | {r['engine']} | {'+'.join(r['tasks'])} | {r['precision']} | failed: "
                f"{r['error'][:80]} |"
            )
            continue
        lat = r.get("latency_ms", {})
        lines.append(
            f"| {r['corpus']} | {r['engine']} | {'+'.join(r['tasks'])} | {r['precision']} | "
            f"{r['docs_per_s']:.1f} | {r['words_per_s']:.0f} | {fmt(lat.get('p50'))} | "
            f"{fmt(lat.get('p95'))} | "
            f"{r['peak_rss_mib']:.0f} | {r['padding_share']:.0%} | {r['gflops_per_s']:.1f} | "
            f"{r['share_of_peak']:.1%} |"
        )
    if any(r.get("share_of_peak", 0) > 1 for r in report["inference"]):
        lines.append(
            "\nWARNING: a share of peak above 100% means the machine was busier while its peak was measured "
            "than during that configuration: rerun on a quiet machine."
        )
    lines += ["", "| throughput ratio (docs/s) | x |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in report["ratios"].items()]
    lines += [
        "",
        "| agreement (NER entities: label, char start, char end) | equal | only ours | only theirs |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {a['equal']} | {a['only_ours']} | {a['only_theirs']} |" for k, a in report["agreement"].items()]
    if report.get("training"):
        lines += [
            "",
            (
                "| training (CoNLL04 train) | precision | samples/s (sentences) | pairs/s | Trainer-reported "
                "rows/s | peak RSS MiB |"
            ),
            "|---|---|---|---|---|---|",
        ]
        for t in report["training"]:
            name = f"{t['task']} {t['impl']}" + (f" ({t['variant']})" if t.get("variant") else "")
            if "error" in t:
                lines.append(f"| {name} | {t['precision']} | failed: {t['error'][:80]} | | | |")
                continue
            lines.append(
                f"| {name} | {t.get('precision')} | {fmt(t.get('samples_per_s'))} | "
                f"{fmt(t.get('pairs_per_s'))} "
                f"| {fmt(t.get('trainer_samples_per_s'))} | {t['peak_rss_mib']:.0f} |"
            )
        lines += [f"| ratio {k} | {v:.2f} | | | | |" for k, v in report["training_ratios"].items()]
    return "\n".join(lines)


def training_ratios(rows: list[dict]) -> dict:
    """ours / plain bf16, ours / plain fp32, plain bf16 / plain fp32 and ours / ours with torch's dropout,
    per task (samples/s)."""
    ok = {
        (t["task"], t.get("variant") or (t["impl"] if t["impl"] == "ours" else t["precision"])): t
        for t in rows
        if "error" not in t
    }
    out = {}
    for task in ("ner", "re"):
        for name, a, b in (
            ("ours / plain bf16", "ours", "bf16"),
            ("ours / plain fp32", "ours", "fp32"),
            ("plain bf16 / plain fp32", "bf16", "fp32"),
            ("ours / ours with torch dropout", "ours", "torch-dropout"),
        ):
            value = ratio(ok.get((task, a)), ok.get((task, b)), "samples_per_s")
            if value:
                out[f"{task}: {name}"] = value
    return out


def optimisations(report: dict) -> list[str]:
    """What each optimisation bought, in words, from the measurements."""
    res, out = report["inference"], []
    for corpus in ("seeds", "conll04"):
        o32, o16 = find(res, corpus, "ours", ["ner"], "fp32"), find(res, corpus, "ours", ["ner"], "bf16")
        e32, p32 = find(res, corpus, "ours", ["ner", "re"], "fp32"), find(res, corpus, "pipeline", ["ner"], "fp32")
        hf = next(filter(None, (find(res, corpus, "ours-hf", ["ner", "re"], p) for p in ("bf16", "fp32"))), None)
        lean = hf and find(res, corpus, "ours", ["ner", "re"], hf["precision"])
        if ratio(lean, hf):
            out.append(
                f"{corpus}: the lean encoder (ie/models/lean_bert.py) made NER+RE in {hf['precision']} "
                f"{ratio(lean, hf):.2f}x as fast as the same Predictor on the transformers classes, at "
                f"{lean['peak_rss_mib']:.0f} MiB peak RSS instead of {hf['peak_rss_mib']:.0f}."
            )
        if ratio(o16, o32):
            out.append(
                f"{corpus}: precision=bf16 made our NER {ratio(o16, o32):.2f}x as fast as fp32 "
                f"({o16['share_of_peak']:.0%} of the bf16 peak vs {o32['share_of_peak']:.0%} of the fp32 peak)."
            )
        if ratio(o32, p32):
            out.append(
                f"{corpus}: sentence-level, length-sorted batching made our fp32 NER {ratio(o32, p32):.2f}x the "
                f"pipeline's docs/s; it fed {o32['tokens_fed']:,} tokens ({o32['padding_share']:.0%} padding) "
                "where the "
                f"pipeline fed {p32['tokens_fed']:,} ({p32['padding_share']:.0%} padding)."
            )
        if ratio(e32, o32):
            out.append(f"{corpus}: relation extraction costs {1 / ratio(e32, o32):.2f}x the time of NER alone (fp32).")
    tr = report.get("training_ratios", {})
    for task in ("ner", "re"):
        if f"{task}: plain bf16 / plain fp32" in tr and f"{task}: ours / plain bf16" in tr:
            bf16, rest = tr[f"{task}: plain bf16 / plain fp32"], tr[f"{task}: ours / plain bf16"]
            out.append(
                f"training {task}: bf16 alone bought {bf16:.2f}x over plain fp32; "
                f"the rest of ours (length-grouped batches, our features, fast dropout) {rest:.2f}x "
                f"over plain bf16."
            )
        if f"{task}: ours / ours with torch dropout" in tr:
            out.append(
                f"training {task}: fast dropout (ie/models/dropout.py) made ours "
                f"{tr[f'{task}: ours / ours with torch dropout']:.2f}x as fast as with torch's dropout."
            )
    return out


def _ratio_bar(report: dict, bar: dict):
    value = report["ratios"].get(bar["ratio"])
    return None if value is None else (f"{value:.2f}x", value >= bar["at_least"])


def _peak_rss_bar(report: dict, bar: dict):
    peaks = [
        (f"{r['corpus']} {'+'.join(r['tasks'])} {r['precision']}", r["peak_rss_mib"])
        for r in report["inference"]
        if r["engine"] == bar.get("engine", "ours") and "error" not in r
    ]
    if not peaks:
        return None
    strict_mib = bar["strict_below_bytes"] / 2**20
    strict = [n for n, v in peaks if v >= strict_mib]
    text = (
        ", ".join(f"{n} {v:.0f} MiB" for n, v in peaks) + f"; read as {bar['strict_below_bytes'] / 1e6:.0f}e6 "
        f"bytes ({strict_mib:.0f} MiB): " + (f"over in {', '.join(strict)}" if strict else "all under too")
    )
    return text, all(v < bar["below_mib"] for _, v in peaks)


def _training_ratio_bar(report: dict, bar: dict):
    measured = report.get("training_ratios", {})
    keys = list(bar["ratios"])
    if keys[0] not in measured:
        return None
    values = [measured.get(k, 0) for k in keys]
    text = f"{values[0]:.2f}x" + "".join(f" ({v:.2f}x)" for v in values[1:])
    return text, all(v >= bar["ratios"][k] for k, v in zip(keys, values))


def _f1_change_bar(report: dict, bar: dict):
    changes = [
        (abs(c), f"{r['corpus']} {r['precision']} {r['backend']}, {metric}")
        for r in report.get("f1", [])
        if r["precision"] in bar.get("precisions", [r["precision"]])
        for metric, c in r["change"].items()
    ]
    if not changes:
        return None
    largest, where = max(changes)
    return f"largest {largest:.2f} ({where})", largest <= bar["at_most"]


BAR_KINDS = {
    "ratio": _ratio_bar,
    "peak_rss": _peak_rss_bar,
    "training_ratio": _training_ratio_bar,
    "f1_change": _f1_change_bar,
}


def load_bars(path: Path = BARS) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def bars(report: dict, table: dict | None = None) -> list[str]:
    """The bars (``bars.json``) against what this run measured (ours at precision="bf16", the default
    backend); a bar whose measurement this run lacks is left out."""
    lines = ["| bar | measured | met |", "|---|---|---|"]
    for bar in (table or load_bars())["bars"]:
        measured = BAR_KINDS[bar["kind"]](report, bar)
        if measured is not None:
            lines.append(f"| {bar['bar']} | {measured[0]} | {'yes' if measured[1] else 'no'} |")
    return lines


NOTES = """Notes: words are whitespace-split words of the input. Times cover the whole call (sentence splitting,
tokenisation, batching, aggregation), after a warm-up call, each configuration in a fresh process (peak RSS
is that process's VmHWM: ru_maxrss would carry over this script's own size at the fork). Latency: one CoNLL04 sentence per call, batch of 1, cycling through the first
sentences. The pipeline reads each text in windows of the tokenizer's model_max_length with stride = the
checkpoint's stride; its bf16 variants are torch.autocast around the fp32 model (bf16_autocast) and the
model loaded with dtype=torch.bfloat16 (bf16_weights, as our Predictor's precision="bf16" does); ratios
against "best bf16" use the faster of the two. Engines: "ours" is the Predictor as loaded by default
(backend="auto": the lean encoder of ie/models/lean_bert.py), "ours-hf" the same Predictor with
backend="transformers". GFLOP/s: useful encoder FLOPs (real tokens only, padding left out: our lean encoder
skips most of it; per layer and sequence of T real tokens 2T(4H^2+2HI) + 4T^2H) over the wall time, as a
share of the matmul peak of the same precision. Training: steady-state optimizer steps (the first tenth left out) at a fixed step count, less
the time spent writing checkpoints (ours writes one per epoch for resume; shown in the JSON as checkpoint_seconds);
RE samples are sentences with a candidate pair, consumed at the epoch-equivalent rate, whatever one
training row is (a pair or a sentence). The runs measured: --run is the main seeds job (python train.py: four
articles for training, 004_8167059eeef70516 for test), --conll04-run is python train.py experiment=conll04_final
seed=1; the tables are re-rendered from the JSON with --from-json."""


def markdown(report: dict, diff_cap: int) -> str:
    lines = [
        "# Speed benchmarks",
        "",
        "Written by `benchmarks/speed.py`; command:",
        "",
        f"    {report['command']}",
        "",
        f"## {load_bars()['title']}",
        "",
        *bars(report),
        "",
        tables(report),
        "",
    ]
    if report.get("f1"):
        lines += [
            "## Test-set F1 of each precision and backend",
            "",
            "Micro F1 on each run's test split, scored as `evaluate.py` scores it; in brackets the change in "
            "points from fp32 on the transformers classes.",
            "",
            *f1_table(report["f1"]),
            "",
        ]
    lines += ["## What each optimisation bought", ""]
    lines += [f"* {line}" for line in optimisations(report)] or ["(not enough configurations measured)"]
    lines += [
        "",
        "## Agreement of the NER entities (label, character span)",
        "",
        "```",
        *diff_lines(report["agreement"], diff_cap),
        "```",
    ]
    return "\n".join(lines + ["", NOTES, ""])
