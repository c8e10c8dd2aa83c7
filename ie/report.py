"""Human-readable reports of evaluation results: plain text for the terminal, Markdown for files."""

from __future__ import annotations

from typing import Sequence

from ie.errors import NONE

EXAMPLES_PER_TYPE = 5  # errors listed per type in Markdown; the JSON holds all of them


def table(headers: Sequence[str], rows: Sequence[Sequence], markdown: bool) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" if i == 0 else "---:"
                                                                 for i in range(len(headers))) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])
    widths = [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    fmt = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))  # noqa: E731
    return "\n".join([fmt(headers)] + [fmt(row) for row in cells])


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|")


def _score_rows(modes: dict[str, dict]) -> list[list]:
    """One row per type, then micro and macro; P/R/F1 of every mode side by side."""
    first = next(iter(modes.values()))
    rows = []
    for label in first["per_type"]:
        row = [label]
        for scores in modes.values():
            s = scores["per_type"][label]
            row += [s["precision"], s["recall"], s["f1"]]
        s = first["per_type"][label]
        rows.append(row + [s["support"], s["tp"], s["fp"], s["fn"]])
    for avg in ("micro", "macro"):
        row = [avg]
        for scores in modes.values():
            s = scores[avg]
            row += [s["precision"], s["recall"], s["f1"]]
        s = first[avg]
        rows.append(row + ([s["support"], s["tp"], s["fp"], s["fn"]] if avg == "micro" else ["", "", "", ""]))
    return rows


def _score_headers(modes: Sequence[str]) -> list[str]:
    first = modes[0]
    return ["type"] + [f"{m} {k}" for m in modes for k in ("P", "R", "F1")] + \
        ["support", f"{first} tp", f"{first} fp", f"{first} fn"]


def score_sections(results: dict) -> list[tuple[str, dict[str, dict]]]:
    sections = []
    if "ner" in results:
        sections.append(("NER (seqeval: strict IOB2 | default conlleval)", results["ner"]))
    for setting, title in (("gold_entities", "RE, gold entities"), ("end_to_end", "RE, end to end")):
        if setting in results.get("re", {}):
            sections.append((f"{title} (strict | boundaries)", results["re"][setting]))
    return sections


def format_report(results: dict) -> str:
    """Plain-text tables: per type, micro and macro, every scoring mode side by side."""
    lines = [f"run: {results['run']}  split: {results['split']}  sentences: {results['sentences']}"]
    for title, modes in score_sections(results):
        lines += ["", title, table(_score_headers(list(modes)), _score_rows(modes), markdown=False)]
    lost = results.get("re", {}).get("lost_pairs")
    if lost:
        lines += ["", f"RE candidate pairs beyond the window (not scored, counted as misses): {lost}"]
    return "\n".join(lines)


def _matrix_table(matrix: dict[str, dict[str, int]]) -> str:
    cols = [c for c in next(iter(matrix.values()))]
    rows = [[f"**{g}**"] + [matrix[g][c] or "" for c in cols] for g in matrix]
    return table(["gold \\ predicted"] + cols, rows, markdown=True)


def _examples(items: list[dict], relation: bool) -> list[str]:
    out = []
    for x in items[:EXAMPLES_PER_TYPE]:
        if relation:
            what = f"`{x['head']['text']}` ({x['head']['label']}) → `{x['tail']['text']}` ({x['tail']['label']})"
        else:
            near = x.get("predicted", x.get("gold", []))
            what = f"`{x['text']}`" + (" vs " + ", ".join(f"`{n['text']}` ({n['label']})" for n in near)
                                       if near else "")
        out.append(f"  - {x['kind']}: {what} — {x['doc_id']}#{x['sent_index']}")
    if len(items) > EXAMPLES_PER_TYPE:
        out.append(f"  - … {len(items) - EXAMPLES_PER_TYPE} more in the JSON")
    return out


def _error_lists(errors: dict, relation: bool) -> list[str]:
    lines = []
    for side, title in (("false_negatives", "False negatives"), ("false_positives", "False positives")):
        for label, items in errors[side].items():
            if items:
                lines += [f"- **{title}, {label}** ({len(items)})"] + _examples(items, relation)
    return lines


def markdown_report(results: dict, images: Sequence[str] = ()) -> str:
    """The whole evaluation of one run as Markdown: scores, confusion matrices, error examples."""
    lines = [f"# Evaluation: `{results['run']}`", "",
             f"Split `{results['split']}`: {len(results['documents'])} document(s), {results['sentences']} "
             f"sentences; precision {results['precision']}.", ""]
    for title, modes in score_sections(results):
        lines += [f"## {title}", "", table(_score_headers(list(modes)), _score_rows(modes), markdown=True), ""]
    errors = results.get("errors", {})
    if "entities" in errors:
        ent = errors["entities"]
        lines += ["## Entity errors", "",
                  f"Confusion over exact spans (`{NONE}`: missed or spurious):", "",
                  _matrix_table(ent["confusion"]["exact_span"]), "",
                  "Boundary errors (overlapping spans, gold type × predicted type):", "",
                  _matrix_table(ent["confusion"]["boundary"]), ""] + _error_lists(ent, relation=False) + [""]
    for setting, rel in errors.get("relations", {}).items():
        lines += [f"## Relation errors, {setting.replace('_', ' ')}", "",
                  "Confusion over argument span pairs (entity types ignored):", "",
                  _matrix_table(rel["confusion"]), ""]
        if any(rel["reversed"].values()):
            lines += ["Reversed direction: " + ", ".join(f"{k} {v}" for k, v in rel["reversed"].items() if v), ""]
        lines += _error_lists(rel, relation=True) + [""]
    lines += [f"![{img}]({img})" for img in images]
    return "\n".join(lines).rstrip() + "\n"


def _pm(stat: dict) -> str:
    return f"{stat['mean']:.4f} ± {stat['std']:.4f}" if stat["n"] > 1 else f"{stat['mean']:.4f}"


METRIC_HEADERS = ["config", "runs", "P", "R", "micro F1", "macro F1", "per-fold F1", "Δ micro F1",
                  "95% CI of Δ", "CI excludes 0"]


def _metric_table(result: dict, metric: str, markdown: bool) -> str:
    """One row per group; the per-fold column only where some group is a cross-validation."""
    rows = []
    for name, group in result["groups"].items():
        if metric not in group["metrics"]:
            continue
        m = group["metrics"][metric]
        row = [name, len(group["runs"]), _pm(m["precision"]), _pm(m["recall"]), _pm(m["f1"]), _pm(m["macro_f1"]),
               _pm(m["per_fold_f1"]) if "per_fold_f1" in m else ""]
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
    lines = ["# Comparison", "", f"Split `{result['split']}`; baseline: **{result['baseline']}**. "
             "Figures are mean ± std over seeds; cross-validation folds of one seed are pooled (per-fold F1 "
             "shows their spread). The CI is a paired bootstrap over test sentences.", ""]
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
        lines += ["Per-type F1 (difference from the baseline in brackets):", "",
                  table(headers, rows, markdown=True), ""]
        image = f"f1_per_type_{metric.replace('.', '_')}.png"
        if image in images:
            lines += [f"![{metric}]({image})", ""]
    lines += ["## Runs", ""] + [f"- {name}: " + ", ".join(f"`{r}`" for r in g["runs"])
                                for name, g in result["groups"].items()]
    return "\n".join(lines).rstrip() + "\n"
