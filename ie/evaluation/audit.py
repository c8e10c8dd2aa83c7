"""Annotation audit: where cross-validated models disagree with the gold confidently (cleanlab-style),
each a place for a person to read against the guidelines, never a label to change on the model's word.

Every run of a cross-validation tested its sentences on a model that never saw them. Over the runs (the
seeds), a *confident disagreement* is a prediction that at least ``min_agreement`` of the runs made, with
a mean score of at least ``min_score``, and that the gold lacks: the gold has the same span with another
label (*label*), an overlapping span (*boundary*), or nothing there (*not annotated*). Gold entities
and relations (with gold entities) that no run found at all are listed too (*never found*): an
annotation every model misses may be a mistake as well.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from ie.evaluation.predictions import read_predictions
from ie.runs import find_runs, predictions_path

Span = tuple[int, int, str]


def _sections(guidelines: str) -> dict[str, str]:
    """Label -> the heading of its section in the guidelines (``### 5.2 ORG`` -> ``5.2 ORG``)."""
    found: dict[str, str] = {}
    for heading in re.findall(r"^#{2,4}\s+(\d[\d.]*\s+\S+)", guidelines, re.MULTILINE):
        found.setdefault(heading.split()[1], heading)
    return found


def _kind(pred: Span, gold: Sequence[Span]) -> str:
    if any(g[:2] == pred[:2] for g in gold):
        return "label"
    return "boundary" if any(g[0] < pred[1] and pred[0] < g[1] for g in gold) else "not annotated"


def _predictions(rows_of_runs: Sequence[list[dict]]) -> dict:
    """Per sentence: one of its rows (words, gold) and the scores each predicted entity and relation (with
    gold entities) got from the runs that made it."""
    sentences: dict = {}
    for rows in rows_of_runs:
        for row in rows:
            entry = sentences.setdefault(
                (row["doc_id"], row["sent_index"]),
                {"row": row, "entities": defaultdict(list), "relations": defaultdict(list)},
            )
            for ent in row.get("pred_entities", []):
                entry["entities"][tuple(ent[:3])].append(ent[3])
            gold = row["gold_entities"]
            for h, t, label, score in row.get("gold_entity_relations", []):
                entry["relations"][(tuple(gold[h][:3]), tuple(gold[t][:3]), label)].append(score)
    return sentences


def _text(row: dict, ent: Span) -> str:
    return f"{' '.join(row['words'][ent[0] : ent[1]])} ({ent[2]})"


def _relation_text(row: dict, rel: tuple) -> str:
    return f"{rel[2]}({_text(row, rel[0])} -> {_text(row, rel[1])})"


def _sentence_items(row: dict, entry: dict, runs: int, min_score: float, min_agreement: float) -> list[dict]:
    where = {"doc_id": row["doc_id"], "sent_index": row["sent_index"], "sentence": " ".join(row["words"])}
    confident = {
        k: v
        for kind in ("entities", "relations")
        for k, v in entry[kind].items()
        if len(v) / runs >= min_agreement and sum(v) / len(v) >= min_score
    }
    gold = [tuple(e[:3]) for e in row["gold_entities"]]
    gold_relations = {(gold[h], gold[t], label) for h, t, label in row["gold_relations"]}
    items = []
    for key, scores in confident.items():
        stats = {"agreement": len(scores) / runs, "score": sum(scores) / len(scores)}
        if key in entry["entities"] and key not in gold:
            near = [_text(row, g) for g in gold if g[0] < key[1] and key[0] < g[1]]
            items.append(
                {
                    **where,
                    "what": "entity",
                    "label": key[2],
                    "kind": _kind(key, gold),
                    "gold": near,
                    "predicted": _text(row, key),
                    **stats,
                }
            )
        elif key in entry["relations"] and key not in gold_relations:
            items.append(
                {
                    **where,
                    "what": "relation",
                    "label": key[2],
                    "kind": "not annotated",
                    "gold": [],
                    "predicted": _relation_text(row, key),
                    **stats,
                }
            )
    never = {"predicted": None, "agreement": 0.0, "score": 0.0, "kind": "never found"}
    if "pred_entities" in row:
        items += [
            {**where, "what": "entity", "label": g[2], "gold": [_text(row, g)], **never}
            for g in gold
            if g not in entry["entities"]
        ]
    if "gold_entity_relations" in row:
        items += [
            {**where, "what": "relation", "label": r[2], "gold": [_relation_text(row, r)], **never}
            for r in sorted(gold_relations - set(entry["relations"]))
        ]
    return items


def audit(
    paths: Sequence[str | Path], split: str = "test", min_score: float = 0.9, min_agreement: float = 1.0
) -> list[dict]:
    """The confident disagreements and never-found annotations of the runs under ``paths``, the most
    confident first, never-found last."""
    rows_of_runs = [read_predictions(predictions_path(run, split))[1] for run in find_runs(paths)]
    runs = Counter((r["doc_id"], r["sent_index"]) for rows in rows_of_runs for r in rows)  # runs testing each
    items = [
        item
        for key, entry in _predictions(rows_of_runs).items()
        for item in _sentence_items(entry["row"], entry, runs[key], min_score, min_agreement)
    ]
    return sorted(items, key=lambda x: (x["kind"] == "never found", -x["score"], x["doc_id"], x["sent_index"]))


def audit_markdown(items: Sequence[dict], guidelines: str, command: str) -> str:
    sections = _sections(guidelines)
    lines = [
        "# Annotation audit",
        "",
        f"Made by `{command}`. Each row is a place to read against the "
        "guidelines (docs/annotation.md); a label changes only where the guideline says it is wrong.",
        "",
        "| # | document#sentence | what | kind | gold | prediction | runs agreeing | mean score | guideline |",
        "|---:|---|---|---|---|---|---:|---:|---|",
    ]
    for n, x in enumerate(items, start=1):
        lines.append(
            f"| {n} | {x['doc_id']}#{x['sent_index']} | {x['what']} | {x['kind']} | "
            f"{'; '.join(x['gold']) or '-'} | {x['predicted'] or '-'} | {x['agreement']:.0%} | "
            f"{x['score']:.2f} | {sections.get(x['label'], '-')} |"
        )
    return "\n".join(lines) + "\n"
