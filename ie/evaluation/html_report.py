"""A self-contained HTML page of one evaluated split: every document, sentence by sentence, with gold
and predicted entities highlighted side by side and the relations listed under each sentence.

Made from the per-sentence records of ``predictions_<split>.jsonl``, so it shows exactly what was
scored. Errors are marked: a predicted entity or relation that is not in gold (exact span, type and
label), and a gold one that was not predicted. One file, inline CSS, no scripts and no external
assets, so it can be mailed or archived; every piece of text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from ie import atomic
from ie.evaluation.metrics import relation_tuple

PALETTE = [
    "#8dd3c7",
    "#fdb462",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#b3de69",
    "#fccde5",
    "#d9d9d9",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
    "#a6cee3",
]

CSS = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table.summary td, table.summary th { padding: 2px 10px; text-align: right; }
table.summary td:first-child, table.summary th:first-child { text-align: left; }
.legend span { margin-right: .6em; }
.sentence { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; padding: .5em 0;
            border-top: 1px solid #eee; }
.side h3 { font-size: .75em; margin: 0; color: #777; text-transform: uppercase; }
.text { white-space: pre-wrap; }
.ent { border-radius: 3px; padding: 0 2px; }
.ent sub { font-size: .65em; font-weight: 600; margin-left: 2px; color: #333; }
.ent.error { outline: 2px solid #d00; }
.ent.missed { outline: 2px dashed #d00; }
ul.rels { margin: .3em 0; padding-left: 1.2em; font-size: .9em; }
li.error, li.missed { color: #b00; }
li.error::before, li.missed::before, .ent.error::before, .ent.missed::before { content: "\\2717 "; color: #d00; }
.note { color: #666; font-size: .9em; }
"""


def _colours(labels: Sequence[str]) -> dict[str, str]:
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def sentence_text(row: dict) -> tuple[str, list[int], list[int], int]:
    """The sentence as it stood in its document (words at their character offsets) and each word's
    offsets within it; records without offsets are shown with single spaces between words."""
    words = row["words"]
    if "word_starts" in row:
        base = row.get("start", row["word_starts"][0] if words else 0)
        starts = [s - base for s in row["word_starts"]]
        ends = [e - base for e in row["word_ends"]]
        parts, cursor = [], 0
        for word, start in zip(words, starts):
            parts.append(" " * (start - cursor) + word)
            cursor = start + len(word)
        return "".join(parts), starts, ends, base
    starts, ends, cursor = [], [], 0
    for word in words:
        starts.append(cursor)
        ends.append(cursor + len(word))
        cursor += len(word) + 1
    return " ".join(words), starts, ends, 0


def _entity_status(ent: Sequence, others: Sequence[Sequence]) -> str:
    """'' if ``others`` holds the same span and type; else how it differs (for the mark's title)."""
    if any(tuple(o[:3]) == tuple(ent[:3]) for o in others):
        return ""
    if any(tuple(o[:2]) == tuple(ent[:2]) for o in others):
        return "wrong type"
    if any(min(o[1], ent[1]) > max(o[0], ent[0]) for o in others):
        return "wrong boundary"
    return "not in the other column"


def _highlight(
    text: str,
    starts: list[int],
    ends: list[int],
    base: int,
    entities: Sequence[Sequence],
    others: Sequence[Sequence],
    side: str,
    colours: dict[str, str],
) -> str:
    out, cursor = [], 0
    for ent in sorted(entities, key=lambda e: (e[0], e[1])):
        a, b = starts[ent[0]], ends[ent[1] - 1]
        if a < cursor:  # overlapping spans cannot be drawn inline; never produced by BIO or brat data
            continue
        status = _entity_status(ent, others)
        cls = "ent" + ((" missed" if side == "gold" else " error") if status else "")
        title = ent[2] + (f" ({ent[3]:.2f})" if len(ent) > 3 else "") + (f": {status}" if status else "")
        out.append(escape(text[cursor:a]))
        out.append(
            f'<mark class="{cls}" style="background:{colours.get(ent[2], "#eee")}" data-side="{side}" '
            f'data-label="{escape(ent[2])}" data-start="{base + a}" data-end="{base + b}" '
            f'title="{escape(title)}">{escape(text[a:b])}<sub>{escape(ent[2])}</sub></mark>'
        )
        cursor = b
    out.append(escape(text[cursor:]))
    return "".join(out)


def _relation_key(entities: Sequence[Sequence], rel: Sequence, symmetric: set[str]) -> tuple:
    return relation_tuple(None, tuple(entities[rel[0]][:3]), tuple(entities[rel[1]][:3]), rel[2], rel[2] in symmetric)


def _relations(
    words: Sequence[str], entities, relations, other_entities, other_relations, side: str, symmetric: set[str]
) -> str:
    if not relations:
        return ""
    found = {_relation_key(other_entities, r, symmetric) for r in other_relations or []}
    items = []
    for rel in relations:
        head, tail = entities[rel[0]], entities[rel[1]]
        ok = _relation_key(entities, rel, symmetric) in found
        cls = "" if ok else (' class="missed"' if side == "gold" else ' class="error"')
        score = f" ({rel[3]:.2f})" if len(rel) > 3 else ""
        items.append(
            f'<li{cls} data-side="{side}" data-label="{escape(rel[2])}">'
            f"{escape(' '.join(words[head[0] : head[1]]))} <b>{escape(rel[2])}</b>{escape(score)} "
            f"{escape(' '.join(words[tail[0] : tail[1]]))}</li>"
        )
    return f'<ul class="rels">{"".join(items)}</ul>'


def _summary(results: dict) -> str:
    lines = []
    metrics = [
        ("NER strict", results.get("ner", {}).get("strict")),
        ("RE gold entities, strict", results.get("re", {}).get("gold_entities", {}).get("strict")),
        ("RE end to end, strict", results.get("re", {}).get("end_to_end", {}).get("strict")),
    ]
    for name, scores in metrics:
        if scores:
            m = scores["micro"]
            lines.append(
                f"<tr><td>{escape(name)}</td><td>{m['precision']:.3f}</td><td>{m['recall']:.3f}</td>"
                f"<td>{m['f1']:.3f}</td><td>{scores['macro']['f1']:.3f}</td></tr>"
            )
    if not lines:
        return ""
    return (
        '<table class="summary"><tr><th>micro</th><th>P</th><th>R</th><th>F1</th><th>macro F1</th></tr>'
        + "".join(lines)
        + "</table>"
    )


def html_report(
    results: dict, rows: Sequence[dict], entity_labels: Sequence[str] = (), symmetric_relations: Sequence[str] = ()
) -> str:
    """The page for ``rows`` (one per sentence, as in ``predictions_<split>.jsonl``)."""
    seen = {e[2] for r in rows for e in r["gold_entities"] + r.get("pred_entities", [])}
    labels = list(entity_labels) + sorted(seen - set(entity_labels))
    colours = _colours(labels)
    symmetric = set(symmetric_relations)
    title = f"{results.get('run', 'run')}: {results.get('split', '')} split"
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>",
        _summary(results),
        '<p class="legend">'
        + "".join(
            f'<span><mark class="ent" style="background:{colours[lab]}">{escape(lab)}</mark></span>' for lab in labels
        )
        + "</p>",
        '<p class="note">Left: gold annotation. Right: the model (entities with their score; relations '
        'end to end, on the predicted entities). <span style="outline:2px solid #d00">Solid</span>: '
        "predicted but not in gold (span, type and label must all match); "
        '<span style="outline:2px dashed #d00">dashed</span>: gold but not predicted.</p>',
    ]
    documents: dict[str, list[dict]] = {}
    for row in rows:
        documents.setdefault(row["doc_id"], []).append(row)
    for doc_id, sentences in documents.items():
        gold_n = sum(len(r["gold_entities"]) for r in sentences)
        pred_n = sum(len(r.get("pred_entities", [])) for r in sentences)
        parts.append(
            f'<section class="document" id="{escape(doc_id)}"><h2>{escape(doc_id)}</h2>'
            f'<p class="note">{len(sentences)} sentences, {gold_n} gold and {pred_n} predicted entities</p>'
        )
        for row in sorted(sentences, key=lambda r: r["sent_index"]):
            text, starts, ends, base = sentence_text(row)
            gold = row["gold_entities"]
            # An RE-only run predicts relations on the gold entities.
            pred = row.get("pred_entities", gold)
            pred_rels = row.get("pred_relations", row.get("gold_entity_relations", []))
            sides = [
                ("gold", gold, row["gold_relations"], pred, pred_rels),
                ("pred", pred, pred_rels, gold, row["gold_relations"]),
            ]
            cells = [
                f'<div class="side {side}"><h3>{"gold" if side == "gold" else "predicted"}</h3>'
                f'<div class="text">{_highlight(text, starts, ends, base, ents, other, side, colours)}</div>'
                f"{_relations(row['words'], ents, rels, other, other_rels, side, symmetric)}</div>"
                for side, ents, rels, other, other_rels in sides
            ]
            parts.append(f'<div class="sentence" data-sentence="{row["sent_index"]}">{"".join(cells)}</div>')
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html_report(
    results: dict,
    rows: Sequence[dict],
    path: str | Path,
    entity_labels: Sequence[str] = (),
    symmetric_relations: Sequence[str] = (),
) -> Path:
    return atomic.write_text(path, html_report(results, rows, entity_labels, symmetric_relations))
