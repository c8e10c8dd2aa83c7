"""The BIO scheme: one tag per word (``O``, ``B-X``, ``I-X``), and word spans to tags and back.

:func:`tags_to_spans` chunks as conlleval and seqeval's default mode do: an ``I-X`` that does not
continue an ``X`` opens a new entity instead of being dropped. It is the one reading of tags as spans
that the Predictor returns and that ``ner.default`` scores (a test checks it against seqeval); the
strict IOB2 reading, which drops such entities, is seqeval's own (:mod:`ie.evaluation.metrics`).
"""

from __future__ import annotations

from typing import Iterable, Sequence

OUTSIDE = "O"
Span = tuple[int, int, str]  # first word, last word (exclusive), label


def tag_set(entity_labels: Sequence[str]) -> list[str]:
    """Every tag of a schema's labels, ``O`` first: the NER model's classes, in this order."""
    return [OUTSIDE] + [f"{prefix}-{label}" for label in entity_labels for prefix in ("B", "I")]


def spans_to_tags(length: int, spans: Iterable[Span]) -> list[str]:
    tags = [OUTSIDE] * length
    for start, end, label in spans:
        tags[start] = f"B-{label}"
        for w in range(start + 1, end):
            tags[w] = f"I-{label}"
    return tags


def tags_to_spans(tags: Sequence[str]) -> list[Span]:
    """Entities of one sentence's tags, in order, chunked as conlleval does (see the module docstring)."""
    spans, start, label = [], None, None
    for w, tag in enumerate([*tags, OUTSIDE]):
        if start is not None and (tag == OUTSIDE or tag.startswith("B-") or tag[2:] != label):
            spans.append((start, w, label))
            start = None
        if tag != OUTSIDE and start is None:
            start, label = w, tag[2:]
    return spans
