"""Scores: seqeval entity-level NER (strict IOB2) and relation P/R/F1 over exact tuples."""

from __future__ import annotations

from collections import Counter
from typing import Hashable, Iterable, Sequence

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}


def ner_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], labels: Sequence[str]) -> dict:
    """seqeval entity-level scores in strict IOB2 mode: per type (every schema label, zeros where
    unseen), micro, and macro as seqeval computes it (mean over types seen in gold or predictions)."""
    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted tag sequences differ in length")
    report = classification_report(list(map(list, gold)), list(map(list, pred)), mode="strict", scheme=IOB2,
                                   output_dict=True, zero_division=0)
    per_type = {}
    for label in labels:
        row = report.get(label, {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
        per_type[label] = {"precision": float(row["precision"]), "recall": float(row["recall"]),
                           "f1": float(row["f1-score"]), "support": int(row["support"])}
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0})
    return {
        "micro": {"precision": float(micro["precision"]), "recall": float(micro["recall"]),
                  "f1": float(micro["f1-score"]), "support": int(micro["support"])},
        "macro": _macro(per_type, [label for label in labels if label in report]),
        "per_type": per_type,
    }


def _macro(per_type: dict, seen: Sequence[str]) -> dict:
    """Unweighted mean over the types that occur in gold or predictions (seqeval's and sklearn's
    convention); 0 when none does."""
    return {k: (sum(per_type[label][k] for label in seen) / len(seen) if seen else 0.0)
            for k in ("precision", "recall", "f1")}


def relation_scores(gold: Iterable[tuple[Hashable, ...]], pred: Iterable[tuple[Hashable, ...]],
                    labels: Sequence[str]) -> dict:
    """P/R/F1 over relation tuples whose last element is the relation label.

    A tuple is whatever must match for a hit, e.g. ``(sentence, head span, head type, tail span,
    tail type, label)``; duplicates count once. Per relation, micro, and macro over the labels that
    occur in gold or predictions.
    """
    gold_set, pred_set = set(gold), set(pred)
    tp, fp, fn = Counter(), Counter(), Counter()
    for item in pred_set:
        (tp if item in gold_set else fp)[item[-1]] += 1
    for item in gold_set - pred_set:
        fn[item[-1]] += 1
    per_type = {label: _prf(tp[label], fp[label], fn[label]) for label in labels}
    micro = _prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    seen = [label for label in labels if tp[label] + fp[label] + fn[label]]
    return {"micro": micro, "macro": _macro(per_type, seen), "per_type": per_type}


def relation_tuple(key: Hashable, head: tuple[int, int, str], tail: tuple[int, int, str], label: str,
                   symmetric: bool) -> tuple:
    """The strict tuple of a relation; a symmetric relation is stored with the earlier span first."""
    if symmetric and (tail[0], tail[1]) < (head[0], head[1]):
        head, tail = tail, head
    return (key, *head, *tail, label)


def spans_to_bio(length: int, spans: Iterable[tuple[int, int, str]]) -> list[str]:
    tags = ["O"] * length
    for start, end, label in spans:
        tags[start] = f"B-{label}"
        for w in range(start + 1, end):
            tags[w] = f"I-{label}"
    return tags
