"""Human-readable reports of one evaluation: plain text for the terminal, Markdown for files."""

from __future__ import annotations

from collections.abc import Sequence

from ie.evaluation.error_analysis import NONE

EXAMPLES_PER_TYPE = 5  # errors listed per type in Markdown; the JSON holds all of them


def table(headers: Sequence[str], rows: Sequence[Sequence], markdown: bool) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    if markdown:
        lines = [
            "| " + " | ".join(headers) + " |",
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|",
        ]
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
    return (
        ["type"]
        + [f"{m} {k}" for m in modes for k in ("P", "R", "F1")]
        + ["support", f"{first} tp", f"{first} fp", f"{first} fn"]
    )


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
    cols = list(next(iter(matrix.values())))
    rows = [[f"**{g}**"] + [matrix[g][c] or "" for c in cols] for g in matrix]
    return table(["gold \\ predicted"] + cols, rows, markdown=True)


def _examples(items: list[dict], relation: bool) -> list[str]:
    out = []
    for x in items[:EXAMPLES_PER_TYPE]:
        if relation:
            what = f"`{x['head']['text']}` ({x['head']['label']}) → `{x['tail']['text']}` ({x['tail']['label']})"
        else:
            near = x.get("predicted", x.get("gold", []))
            what = f"`{x['text']}`" + (
                " vs " + ", ".join(f"`{n['text']}` ({n['label']})" for n in near) if near else ""
            )
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
    lines = [
        f"# Evaluation: `{results['run']}`",
        "",
        f"Split `{results['split']}`: {len(results['documents'])} document(s), {results['sentences']} "
        f"sentences; precision {results['precision']}.",
        "",
    ]
    for title, modes in score_sections(results):
        lines += [f"## {title}", "", table(_score_headers(list(modes)), _score_rows(modes), markdown=True), ""]
    errors = results.get("errors", {})
    if "entities" in errors:
        ent = errors["entities"]
        lines += (
            [
                "## Entity errors",
                "",
                f"Confusion over exact spans (`{NONE}`: missed or spurious):",
                "",
                _matrix_table(ent["confusion"]["exact_span"]),
                "",
                "Boundary errors (overlapping spans, gold type × predicted type):",
                "",
                _matrix_table(ent["confusion"]["boundary"]),
                "",
            ]
            + _error_lists(ent, relation=False)
            + [""]
        )
    for setting, rel in errors.get("relations", {}).items():
        lines += [
            f"## Relation errors, {setting.replace('_', ' ')}",
            "",
            "Confusion over argument span pairs (entity types ignored):",
            "",
            _matrix_table(rel["confusion"]),
            "",
        ]
        if any(rel["reversed"].values()):
            lines += ["Reversed direction: " + ", ".join(f"{k} {v}" for k, v in rel["reversed"].items() if v), ""]
        lines += _error_lists(rel, relation=True) + [""]
    lines += [f"![{img}]({img})" for img in images]
    return "\n".join(lines).rstrip() + "\n"
