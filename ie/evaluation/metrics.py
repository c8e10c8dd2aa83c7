"""Scores from match counts: NER entities in both seqeval modes, relations in strict and
boundaries modes.

Every score is built from per-label ``[tp, fp, fn]`` counts, so totals, per-sentence counts (for the
bootstrap) and cross-validation pooling all add up the same numbers. Entities are read from
word-level tags with seqeval's own chunkers, so the figures equal seqeval's classification report
(tests check this).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence

from seqeval.scheme import IOB2, Entities

from ie.data.bio import tags_to_spans

NER_MODES = ("strict", "default")  # seqeval strict IOB2; seqeval default = conlleval chunking
RE_MODES = ("strict", "boundaries")  # spans + entity types + label + direction; spans + label + direction

Counts = dict[str, list[int]]  # label -> [tp, fp, fn]


def tag_entities(tags: Sequence[str], mode: str) -> set[tuple[int, int, str]]:
    """``(start, end exclusive, label)`` word spans of one sentence, chunked as seqeval does in ``mode``:
    strict IOB2 (seqeval's own) drops ill-formed chunks (an ``I-`` that opens one), default mode
    (:func:`ie.data.bio.tags_to_spans`, the Predictor's reading) keeps them."""
    if mode == "strict":
        return {(e.start, e.end, e.tag) for e in Entities([list(tags)], IOB2, suffix=False).entities[0]}
    if mode == "default":
        return set(tags_to_spans(tags))
    raise ValueError(f"NER mode must be one of {NER_MODES}, got '{mode}'")


def count_matches(gold: Iterable[tuple[Hashable, ...]], pred: Iterable[tuple[Hashable, ...]]) -> Counts:
    """Per-label ``[tp, fp, fn]`` of exact tuple matches; the label is each tuple's last element and
    duplicates count once."""
    gold_set, pred_set = set(gold), set(pred)
    counts: Counts = defaultdict(lambda: [0, 0, 0])
    for item in pred_set:
        counts[item[-1]][0 if item in gold_set else 1] += 1
    for item in gold_set - pred_set:
        counts[item[-1]][2] += 1
    return dict(counts)


def add_counts(total: Counts, counts: Mapping[str, Sequence[int]]) -> Counts:
    for label, row in counts.items():
        acc = total.setdefault(label, [0, 0, 0])
        for i in range(3):
            acc[i] += row[i]
    return total


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}


def scores_from_counts(counts: Mapping[str, Sequence[int]], labels: Sequence[str]) -> dict:
    """Per type (every label in ``labels``, zeros where unseen), micro, and macro as seqeval and
    sklearn compute it: the unweighted mean over types that occur in gold or predictions."""
    unknown = set(counts) - set(labels)
    if unknown:
        raise ValueError(f"labels {sorted(unknown)} are not in the schema's {list(labels)}")
    per_type = {label: prf(*counts.get(label, (0, 0, 0))) for label in labels}
    micro = prf(*(sum(row[i] for row in counts.values()) for i in range(3)))
    seen = [label for label in labels if sum(counts.get(label, (0, 0, 0)))]
    macro = {
        k: (sum(per_type[label][k] for label in seen) / len(seen) if seen else 0.0)
        for k in ("precision", "recall", "f1")
    }
    return {"micro": micro, "macro": macro, "per_type": per_type}


def ner_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], mode: str) -> list[Counts]:
    """Per-sentence counts of word-level tag sequences."""
    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted tag sequences differ in length")
    return [count_matches(tag_entities(g, mode), tag_entities(p, mode)) for g, p in zip(gold, pred)]


def ner_scores(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], labels: Sequence[str], mode: str = "strict"
) -> dict:
    total: Counts = {}
    for counts in ner_counts(gold, pred, mode):
        add_counts(total, counts)
    return scores_from_counts(total, labels)


def relation_scores(
    gold: Iterable[tuple[Hashable, ...]], pred: Iterable[tuple[Hashable, ...]], labels: Sequence[str]
) -> dict:
    """P/R/F1 over relation tuples whose last element is the label, e.g. ``(sentence, head span, head
    type, tail span, tail type, label)``."""
    return scores_from_counts(count_matches(gold, pred), labels)


def relation_tuple(
    key: Hashable,
    head: tuple[int, int, str],
    tail: tuple[int, int, str],
    label: str,
    symmetric: bool,
    mode: str = "strict",
) -> tuple:
    """What must match for a relation hit. ``strict``: both spans, both entity types, the label and
    the direction; ``boundaries``: the same without entity types. A symmetric relation is stored
    with the earlier span first, so its direction never counts."""
    if symmetric and (tail[0], tail[1]) < (head[0], head[1]):
        head, tail = tail, head
    if mode == "strict":
        return (key, *head, *tail, label)
    if mode == "boundaries":
        return (key, head[0], head[1], tail[0], tail[1], label)
    raise ValueError(f"RE mode must be one of {RE_MODES}, got '{mode}'")
