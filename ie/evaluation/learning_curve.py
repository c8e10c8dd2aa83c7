"""A learning curve: strict F1 against the number of annotated training entities, per corpus.

The runs are the sweeps of ``experiment=learning_curve`` (seeds: 1-4 training articles inside each
leave-one-document-out fold) and ``experiment=learning_curve_conll04`` (CoNLL04 sentences drawn to the
same entity counts). A point is one training size of one corpus: its folds are pooled per replicate
(a seed and a draw, ``data.train_sample``), as ``evaluate.py compare`` pools them, and the point is the
mean ± std over replicates; for cross-validation the spread over the folds is given too, since one
article per fold is where most of the variance lies. The x value is the training split's entities as
annotated (before mention replacement), counted from each run's own data config.

The extrapolation is a least-squares line of F1 against log2(entities) per corpus and measure: what
each doubling of annotation bought over the measured range. It is a trend of at most a few points and
says so; it is not a promise beyond the range.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from ie import atomic
from ie.data.corpus import load_corpus
from ie.data.schema import Schema
from ie.errors import ConfigError
from ie.evaluation.compare import Run, entry_split, load_run, mean_std, totals, with_defaults
from ie.evaluation.metrics import scores_from_counts
from ie.evaluation.outputs import write_json
from ie.evaluation.scoring import labels_of
from ie.runs import CONFIG_FILE, find_runs

MEASURES = {"ner.strict": "NER", "re.end_to_end.strict": "RE, end to end"}


def training_entities(run_dir: Path, cache: dict) -> int:
    """Entities of the run's training split as annotated, from its saved data config."""
    cfg = with_defaults(OmegaConf.load(run_dir / CONFIG_FILE))
    key = OmegaConf.to_yaml(cfg.data)
    if key not in cache:
        records, splits = load_corpus(cfg.data, Schema.load(cfg.data.schema))
        cache[key] = sum(len(r.entities) for doc in splits.get("train", []) for r in records[doc])
    return cache[key]


def _size(run: Run) -> str:
    for key in ("data.train_units", "data.train_entities"):
        if run.config.get(key, "None") != "None":
            return f"{key.split('.')[-1]}={run.config[key]}"
    return "all of the split"


def _point(runs: list[Run], entities: list[int]) -> dict:
    replicates: dict = defaultdict(dict)
    for run in runs:
        replicates[(run.seed, run.config.get("data.train_sample", "0"))].update(run.counts)
    schema = runs[0].schema
    point = {"runs": len(runs), "replicates": len(replicates), "training_entities": mean_std(entities)}
    for metric in MEASURES:
        if not all(metric in c for run in runs for c in run.counts.values()):
            continue
        labels = labels_of(schema, metric)
        f1 = [scores_from_counts(totals(counts, metric), labels)["micro"]["f1"] for counts in replicates.values()]
        point[metric] = mean_std(f1)
        if any(run.fold is not None for run in runs):
            point[metric]["per_fold"] = mean_std(
                [scores_from_counts(totals(run.counts, metric), labels)["micro"]["f1"] for run in runs]
            )
    return point


def trend(points: Sequence[dict], metric: str) -> dict | None:
    """F1 = a + b * log2(entities), least squares over the points: b is the gain per doubling."""
    xy = [(math.log2(p["training_entities"]["mean"]), p[metric]["mean"]) for p in points if metric in p]
    if len(xy) < 2:
        return None
    mx, my = statistics.fmean(x for x, _ in xy), statistics.fmean(y for _, y in xy)
    sxx = sum((x - mx) ** 2 for x, _ in xy)
    slope = sum((x - mx) * (y - my) for x, y in xy) / sxx
    largest = max(p["training_entities"]["mean"] for p in points)

    def at(entities: float) -> float:  # a straight line in log2 runs past 1: F1 cannot
        return min(1.0, my + slope * (math.log2(entities) - mx))

    return {
        "gain_per_doubling": slope,
        "intercept": my - slope * mx,
        "points": len(xy),
        "at_2x_largest": at(2 * largest),
        "at_4x_largest": at(4 * largest),
        "largest_entities": largest,
    }


def learning_curve(
    paths: Sequence[str | Path], split: str = "test", batch_size: int = 32, predict: dict | None = None
) -> dict:
    """``PATH@SPLIT`` scores that entry's runs on SPLIT (as ``evaluate.py compare``), and names its corpus
    ``DATA@SPLIT``: a corpus's curve read on the seed articles beside the seeds' own."""
    cache: dict = {}
    by_point: dict = defaultdict(list)
    for path, entry in (entry_split(p, split) for p in paths):
        for run in (load_run(r, entry, batch_size, predict) for r in find_runs([path])):
            corpus = run.config["data.name"] + ("" if entry == split else f"@{entry}")
            by_point[(corpus, _size(run))].append(run)
    corpora: dict = defaultdict(dict)
    for (corpus, size), members in sorted(by_point.items()):
        corpora[corpus][size] = _point(members, [training_entities(r.path, cache) for r in members])
    if not any(len(points) > 1 for points in corpora.values()):
        raise ConfigError(
            "learning_curve: every corpus has one training size; give the sweeps of "
            "experiment=learning_curve and experiment=learning_curve_conll04"
        )
    out: dict = {"split": split, "corpora": {}}
    for corpus, points in corpora.items():
        ordered = dict(sorted(points.items(), key=lambda item: item[1]["training_entities"]["mean"]))
        out["corpora"][corpus] = {"points": ordered, "trend": {m: trend(list(ordered.values()), m) for m in MEASURES}}
    return out


def markdown(result: dict) -> str:
    lines = [
        "| corpus | training size | training entities | runs | "
        + " | ".join(f"{name} F1" for name in MEASURES.values())
        + " |",
        "|---|---|---:|---:|" + "---:|" * len(MEASURES),
    ]
    for corpus, entry in result["corpora"].items():
        for size, point in entry["points"].items():
            cells = []
            for metric in MEASURES:
                if metric not in point:
                    cells.append("–")
                    continue
                cell = f"{point[metric]['mean']:.3f} ± {point[metric]['std']:.3f}"
                if "per_fold" in point[metric]:
                    cell += f" (folds ± {point[metric]['per_fold']['std']:.3f})"
                cells.append(cell)
            lines.append(
                f"| {corpus} | {size} | {point['training_entities']['mean']:.0f} | {point['runs']} | "
                + " | ".join(cells)
                + " |"
            )
    lines += [
        "",
        "| corpus | measure | F1 gain per doubling of entities | F1 at 2x / 4x the largest size (extrapolated) |",
        "|---|---|---:|---:|",
    ]
    for corpus, entry in result["corpora"].items():
        for metric, fit in entry["trend"].items():
            if fit:
                lines.append(
                    f"| {corpus} | {MEASURES[metric]} | {fit['gain_per_doubling']:+.3f} | "
                    f"{fit['at_2x_largest']:.3f} / {fit['at_4x_largest']:.3f} |"
                )
    return "\n".join(lines) + "\n"


def plot(result: dict, path: str | Path) -> Path:
    from ie.evaluation.plots import plt, save_figure

    fig, axes = plt.subplots(1, len(MEASURES), figsize=(5.0 * len(MEASURES), 3.8), sharey=True)
    for ax, (metric, name) in zip(axes, MEASURES.items()):
        for corpus, entry in result["corpora"].items():
            points = [p for p in entry["points"].values() if metric in p]
            if not points:
                continue
            x = [p["training_entities"]["mean"] for p in points]
            y = [p[metric]["mean"] for p in points]
            spread = [p[metric].get("per_fold", p[metric])["std"] for p in points]
            ax.errorbar(x, y, yerr=spread, marker="o", capsize=3, label=corpus)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("annotated training entities")
        ax.set_title(f"{name}, strict micro F1")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("F1 (error bars: std over folds, or over draws)")
    axes[0].legend()
    return save_figure(fig, path)


def write_learning_curve(result: dict, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_json(result, out / "learning_curve.json")]
    written.append(atomic.write_text(out / "learning_curve.md", markdown(result)))
    written.append(plot(result, out / "learning_curve.png"))
    return written
