"""The BIO scheme: one tag per word (``O``, ``B-X``, ``I-X``), and word spans to tags and back.

:func:`tags_to_spans` chunks as conlleval and seqeval's default mode do: an ``I-X`` that does not
continue an ``X`` opens a new entity instead of being dropped. It is the one reading of tags as spans
that the Predictor returns and that ``ner.default`` scores (a test checks it against seqeval); the
strict IOB2 reading, which drops such entities, is seqeval's own (:mod:`ie.evaluation.metrics`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def transition_counts(sentences: Iterable[Sequence[str]], tags: Sequence[str]) -> list[list[int]]:
    """How often each tag follows each other in ``sentences``: row 0 counts the first tags of sentences,
    row i + 1 what follows ``tags[i]``. What a decoder can learn of tag order from the training data."""
    index = {tag: i for i, tag in enumerate(tags)}
    counts = [[0] * len(tags) for _ in range(len(tags) + 1)]
    for sentence in sentences:
        previous = -1
        for tag in sentence:
            counts[previous + 1][index[tag]] += 1
            previous = index[tag]
    return counts


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
