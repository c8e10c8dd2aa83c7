"""Human-readable reports of a comparison (:mod:`ie.evaluation.compare`): plain text for the terminal,
Markdown for files."""

from __future__ import annotations

from collections.abc import Sequence

from ie.evaluation.report import table


def _pm(stat: dict) -> str:
    return f"{stat['mean']:.4f} ± {stat['std']:.4f}" if stat["n"] > 1 else f"{stat['mean']:.4f}"


METRIC_HEADERS = [
    "config",
    "runs",
    "P",
    "R",
    "micro F1",
    "macro F1",
    "per-fold F1",
    "Δ micro F1",
    "95% CI of Δ",
    "CI excludes 0",
]


def _metric_table(result: dict, metric: str, markdown: bool) -> str:
    """One row per group; the per-fold column only where some group is a cross-validation."""
    rows = []
    for name, group in result["groups"].items():
        if metric not in group["metrics"]:
            continue
        m = group["metrics"][metric]
        row = [
            name,
            len(group["runs"]),
            _pm(m["precision"]),
            _pm(m["recall"]),
            _pm(m["f1"]),
            _pm(m["macro_f1"]),
            _pm(m["per_fold_f1"]) if "per_fold_f1" in m else "",
        ]
        vs = group.get("against_baseline", {}).get(metric)
        if vs is None:
            row += ["baseline", "", ""]
        else:
            boot = vs["bootstrap"]
            ci = boot.get("skipped") or f"[{boot['ci_low']:+.4f}, {boot['ci_high']:+.4f}]"
            row += [f"{vs['f1']:+.4f}", ci, "" if "skipped" in boot else ("yes" if boot["excludes_zero"] else "no")]
        rows.append(row)
    keep = [i for i, h in enumerate(METRIC_HEADERS) if h != "per-fold F1" or any(r[i] for r in rows)]
    return table([METRIC_HEADERS[i] for i in keep], [[r[i] for i in keep] for r in rows], markdown)


def format_comparison(result: dict) -> str:
    lines = [f"split: {result['split']}  baseline: {result['baseline']}"]
    for metric in _compared_metrics(result):
        lines += ["", metric, _metric_table(result, metric, markdown=False)]
    return "\n".join(lines)


def _compared_metrics(result: dict) -> list[str]:
    seen: list[str] = []
    for group in result["groups"].values():
        seen += [m for m in group["metrics"] if m not in seen]
    return seen


def comparison_markdown(result: dict, images: Sequence[str] = ()) -> str:
    """Every group's figures (mean ± std over seeds; folds pooled), differences against the baseline
    with their paired-bootstrap CI, and per-type F1."""
    lines = [
        "# Comparison",
        "",
        f"Split `{result['split']}`; baseline: **{result['baseline']}**. "
        "Figures are mean ± std over seeds; cross-validation folds of one seed are pooled (per-fold F1 "
        "shows their spread). The CI is a paired bootstrap over test sentences.",
        "",
    ]
    for metric in _compared_metrics(result):
        lines += [f"## {metric}", "", _metric_table(result, metric, markdown=True), ""]
        groups = [(n, g) for n, g in result["groups"].items() if metric in g["metrics"]]
        types = list(groups[0][1]["metrics"][metric]["per_type_f1"])
        headers = ["type"] + [n for n, _ in groups]
        rows = []
        for t in types:
            row = [t]
            for _, g in groups:
                cell = _pm(g["metrics"][metric]["per_type_f1"][t])
                delta = g.get("against_baseline", {}).get(metric, {}).get("per_type_f1", {}).get(t)
                row.append(cell + (f" ({delta:+.4f})" if delta is not None else ""))
            rows.append(row)
        lines += [
            "Per-type F1 (difference from the baseline in brackets):",
            "",
            table(headers, rows, markdown=True),
            "",
        ]
        image = f"f1_per_type_{metric.replace('.', '_')}.png"
        if image in images:
            lines += [f"![{metric}]({image})", ""]
    lines += _error_sections(result)
    lines += ["## Runs", ""] + [
        f"- {name}: " + ", ".join(f"`{r}`" for r in g["runs"]) for name, g in result["groups"].items()
    ]
    return "\n".join(lines).rstrip() + "\n"


def _outcome_table(per_type: dict, rows_of: Sequence[tuple[str, dict]]) -> str:
    outcomes = list(next(iter(per_type.values())))
    rows = [[name] + [f"{sum(t[o] for t in table.values()):.1f}" for o in outcomes] for name, table in rows_of]
    return table(["config"] + outcomes, rows, markdown=True)


def _type_table(per_type: dict) -> str:
    outcomes = list(next(iter(per_type.values())))
    return table(
        ["type"] + outcomes, [[t] + [f"{row[o]:.1f}" for o in outcomes] for t, row in per_type.items()], markdown=True
    )


def _error_sections(result: dict) -> list[str]:
    """What became of the gold entities and relations (ie.evaluation.error_analysis.breakdown), one pass
    over the test sentences averaged over seeds: every group's totals, and the baseline's per type."""
    groups = [(n, g["errors"]) for n, g in result["groups"].items() if g.get("errors")]
    if not groups:
        return []
    base = result["groups"][result["baseline"]].get("errors", {})
    lines = [
        "## Error breakdown",
        "",
        "Every gold entity and relation counted once by what became of it; "
        "*spurious* predictions overlap no gold. Mean over seeds of one pass over the test sentences.",
        "",
    ]
    if "entities" in base:
        lines += [
            "Entities:",
            "",
            _outcome_table(base["entities"], [(n, e["entities"]) for n, e in groups if "entities" in e]),
            "",
            f"Entities per type, {result['baseline']}:",
            "",
            _type_table(base["entities"]),
            "",
        ]
    for setting in base.get("relations", {}):
        title = setting.replace("_", " ")
        lines += [
            f"Relations, {title}:",
            "",
            _outcome_table(
                base["relations"][setting],
                [(n, e["relations"][setting]) for n, e in groups if setting in e.get("relations", {})],
            ),
            "",
            f"Relations per type, {title}, {result['baseline']}:",
            "",
            _type_table(base["relations"][setting]),
            "",
        ]
    return lines
