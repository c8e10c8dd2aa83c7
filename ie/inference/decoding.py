"""From per-word label scores to BIO tags, by a decoder named in the config (``decoding=``), and
from tags to scored entities.

``argmax`` takes each word's best tag on its own, so it can produce an ``I-ORG`` after ``O`` or after
``B-PER``; seqeval's default mode then opens an entity there and its strict mode drops it, and either
way an entity is likely wrong. ``viterbi`` (the default) picks the most probable tag sequence among
the well-formed ones (an ``I-X`` only after ``B-X`` or ``I-X``), the usual constrained decoding of BIO
taggers. ``viterbi_transitions`` also weighs each step by how often the training data had that tag
after the previous one (counted when the model trained, add-one smoothed, stored in its checkpoint):
a word-by-word tagger can read a two-word name as two one-word entities (``B-PER B-PER``), which the
training data almost never has. Counted per tag, though, that prior also says that rare types are rare,
which the model's scores already say: it read the few AGREEMENT mentions as nothing at all.
``viterbi_structure`` pools the counts by the shape of a step (``O -> B``, ``B -> I`` of the same type,
``B -> B``, ...) over all types, so it weighs whether an entity goes on, never which type it is. A new
decoder is one function from a list of ``words x labels`` log-probabilities (and the transition counts,
when the model has them) to tag ids per sentence, and one entry in :data:`DECODERS`.

A span NER head (``model.ner_head=span``, :mod:`ie.models.span_ner`) scores whole spans instead of
tags, so it has decoders of its own (:data:`SPAN_DECODERS`): ``greedy_spans`` keeps the most probable
entity spans that do not overlap one already kept, the flat-NER decoding of SpERT and PURE.

Sentences are decoded many at a time (one array step per word position for a whole group of
similar-length sentences), since a Python loop per sentence and word cost more than the encoder on
short news sentences. NumPy, not torch: the ONNX Runtime backend decodes without torch installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from ie.data.bio import tags_to_spans
from ie.errors import ConfigError

DEFAULT = "viterbi"
COUNTED = ("viterbi_transitions", "viterbi_structure")  # decoders that need the training data's tag counts
GROUP = 256  # sentences decoded together; grouped by length, so padding stays small
WordEntity = tuple[int, int, str, float]  # word start, word end (exclusive), label, score


@lru_cache(maxsize=8)
def _constraints(labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Additive penalties: ``start[j]`` for a sentence opening with tag j, ``step[i, j]`` for i -> j."""

    def inside_of(tag: str) -> str | None:
        return tag[2:] if tag.startswith("I-") else None

    start = np.array([float("-inf") if inside_of(t) else 0.0 for t in labels], dtype=np.float32)
    step = np.zeros((len(labels), len(labels)), dtype=np.float32)
    for j, tag in enumerate(labels):
        kind = inside_of(tag)
        if kind is None:
            continue
        for i, prev in enumerate(labels):
            if prev[2:] != kind or prev == "O":
                step[i, j] = float("-inf")
    return start, step


def transition_scores(counts: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """``log P(first tag)`` and ``log P(next tag | previous tag)`` from :func:`ie.data.bio.transition_counts`,
    add-one smoothed."""
    smoothed = np.asarray(counts, dtype=np.float32) + 1
    log_p = np.log(smoothed / smoothed.sum(1, keepdims=True))
    return log_p[0], log_p[1:]


def _pattern(previous: str | None, tag: str) -> tuple:
    """A transition by its shape alone: the two prefixes (``None`` before the first tag), and whether an
    entity tag follows one of the same type."""
    same = previous not in (None, "O") and tag != "O" and previous[2:] == tag[2:]
    return (None if previous is None else previous[0], tag[0], same)


def structure_scores(counts: Sequence[Sequence[int]], labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`transition_scores`, but with the counts pooled by :func:`_pattern` over all types and
    shared out evenly among the tags of a pattern: the decoder learns that an entity goes on (``B-X I-X``)
    far more often than another starts right after it (``B-X B-X``), not that some types are rare,
    which the model's own scores already know."""
    rows = [None, *labels]
    pooled: dict[tuple, int] = {}
    for i, previous in enumerate(rows):
        for j, tag in enumerate(labels):
            pooled[_pattern(previous, tag)] = pooled.get(_pattern(previous, tag), 0) + counts[i][j]
    scores = np.empty((len(rows), len(labels)), dtype=np.float32)
    for i, previous in enumerate(rows):
        patterns = [_pattern(previous, tag) for tag in labels]
        total = sum(pooled[p] + 1 for p in set(patterns))
        for j, p in enumerate(patterns):
            scores[i, j] = (pooled[p] + 1) / total / patterns.count(p)
    log_p = np.log(scores)
    return log_p[0], log_p[1:]


def _viterbi_group(
    log_probs: np.ndarray,
    lengths: np.ndarray,
    labels: tuple[str, ...],
    transitions: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Best well-formed paths of a padded group: ``log_probs`` is sentences x words x labels; with
    ``transitions`` (:func:`transition_scores`), each step also scores how likely the tag order is."""
    start, step = _constraints(labels)
    if transitions is not None:
        start, step = start + transitions[0], step + transitions[1]
    n, width, k = log_probs.shape
    score = log_probs[:, 0] + start
    back = np.empty((max(width - 1, 0), n, k), dtype=np.int64)
    stay = np.broadcast_to(np.arange(k), (n, k))  # past a sentence's end every tag points back to itself
    for w in range(1, width):
        candidates = score[:, :, None] + step  # previous tag x next tag
        arg = candidates.argmax(1)
        best = np.take_along_axis(candidates, arg[:, None, :], 1)[:, 0]
        running = (lengths > w)[:, None]
        back[w - 1] = np.where(running, arg, stay)
        score = np.where(running, best + log_probs[:, w], score)
    paths = np.empty((n, width), dtype=np.int64)
    paths[:, width - 1] = score.argmax(-1)
    for w in range(width - 1, 0, -1):
        paths[:, w - 1] = np.take_along_axis(back[w - 1], paths[:, w, None], 1)[:, 0]
    return paths


def _argmax(log_probs: Sequence[np.ndarray], labels: Sequence[str], counts=None) -> list[list[int]]:
    return [np.asarray(scores).argmax(-1).tolist() for scores in log_probs]


def _needs_counts(name: str, counts) -> None:
    if counts is None:
        raise ConfigError(
            f"decoding={name}: this NER checkpoint has no tag transition counts (ie.json "
            "tag_transitions, written by training since they exist): retrain it or decode with viterbi"
        )


def _viterbi_transitions(log_probs: Sequence[np.ndarray], labels: Sequence[str], counts=None) -> list[list[int]]:
    _needs_counts("viterbi_transitions", counts)
    return _viterbi(log_probs, labels, transition_scores(counts))


def _viterbi_structure(log_probs: Sequence[np.ndarray], labels: Sequence[str], counts=None) -> list[list[int]]:
    _needs_counts("viterbi_structure", counts)
    return _viterbi(log_probs, labels, structure_scores(counts, labels))


def _viterbi(log_probs: Sequence[np.ndarray], labels: Sequence[str], transitions=None) -> list[list[int]]:
    log_probs = [np.asarray(scores, dtype=np.float32) for scores in log_probs]
    out: list[list[int]] = [[] for _ in log_probs]
    order = sorted((i for i, s in enumerate(log_probs) if len(s)), key=lambda i: len(log_probs[i]))
    for g in range(0, len(order), GROUP):
        group = order[g : g + GROUP]
        lengths = np.array([len(log_probs[i]) for i in group])
        padded = np.zeros((len(group), lengths.max(), len(labels)), dtype=np.float32)
        for row, i in enumerate(group):
            padded[row, : lengths[row]] = log_probs[i]
        paths = _viterbi_group(padded, lengths, tuple(labels), transitions).tolist()
        for i, path, n in zip(group, paths, lengths.tolist()):
            out[i] = path[:n]
    return out


Decoder = Callable[[Sequence[np.ndarray], Sequence[str], Sequence[Sequence[int]] | None], list[list[int]]]
DECODERS: dict[str, Decoder] = {
    "viterbi": lambda log_probs, labels, counts=None: _viterbi(log_probs, labels),
    "viterbi_transitions": _viterbi_transitions,
    "viterbi_structure": _viterbi_structure,
    "argmax": _argmax,
}


def greedy_spans(candidates: Sequence[WordEntity]) -> list[WordEntity]:
    """The entity candidates of one sentence, most probable first, each kept unless it overlaps one kept
    before; in reading order."""
    taken: set[int] = set()
    kept = []
    for start, end, label, score in sorted(candidates, key=lambda c: (-c[3], c[0], c[1])):
        if taken.isdisjoint(range(start, end)):
            taken.update(range(start, end))
            kept.append((start, end, label, score))
    return sorted(kept)


SpanDecoder = Callable[[Sequence[WordEntity]], list[WordEntity]]
SPAN_DECODERS: dict[str, SpanDecoder] = {"greedy_spans": greedy_spans}
# By NER head (model.ner_head): what training picks when trainer.ner.decoding is null, and how a checkpoint
# that does not record its decoding is read. With CoNLL04 pre-training the structure prior no longer helps
# NER and costs relations end to end (docs/results/README.md, "Boundaries"), so plain viterbi stays.
DEFAULTS = {"token": DEFAULT, "span": "greedy_spans"}


def check_decoding(decoding: str, head: str = "token") -> str:
    """``decoding`` if it reads the output of an NER head of kind ``head`` (``token`` or ``span``)."""
    known = DECODERS if head == "token" else SPAN_DECODERS
    if decoding not in known:
        raise ConfigError(f"decoding must be one of {list(known)} for a {head} NER head, got {decoding!r}")
    return decoding


def decode_many(
    log_probs: Sequence[np.ndarray],
    labels: Sequence[str],
    decoding: str = DEFAULT,
    counts: Sequence[Sequence[int]] | None = None,
) -> list[list[int]]:
    """Tag ids for each sentence's ``words x labels`` log-probabilities (arrays, or CPU float tensors);
    ``counts``: the model's tag
    transition counts (:func:`ie.data.bio.transition_counts`), for the decoders that use them."""
    return DECODERS[check_decoding(decoding)](log_probs, labels, counts)


def viterbi(log_probs: np.ndarray, labels: Sequence[str]) -> list[int]:
    """The best well-formed BIO tag sequence for one sentence; ``log_probs`` is words x labels."""
    return _viterbi([log_probs], labels)[0]


def scored_entities(tags: Sequence[str], scores: Sequence[float]) -> list[WordEntity]:
    """The entities of one sentence's tags (:func:`ie.data.bio.tags_to_spans`), each scored by the mean
    probability of its words' tags."""
    return [
        (start, end, label, float(sum(scores[start:end]) / (end - start))) for start, end, label in tags_to_spans(tags)
    ]
