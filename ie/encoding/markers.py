"""Typed entity markers, all entities of a sentence at once, so every candidate pair is scored from
one encoder pass.

``<e:PER> Denis Manturov </e:PER> met <e:PER> Emomali Rahmon </e:PER> in <e:LOC> Dushanbe </e:LOC> .``

The relation model reads a pair at the two opening markers plus the text between the mentions
(typed markers: Zhong & Chen 2021; one pass for all pairs with context pooling: Eberts & Ulges 2020,
SpERT). A sentence that does not fit one window is covered by as few windows as hold every pair in
reach; a pair whose mentions (with everything between them) cannot share a window is counted as lost,
never silently dropped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ie.encoding.align import WordPieces, pad_ids, special_tokens

Span = tuple[int, int, str]
# Recorded in RE checkpoints: models trained on one pair per pass with head/tail markers read differently.
ENCODING = "all-entities-marked/v1"  # word start, word end (exclusive), entity label


def marker_tokens(entity_labels: Sequence[str]) -> list[str]:
    return [token for label in entity_labels for token in (f"<e:{label}>", f"</e:{label}>")]


def add_marker_tokens(tokenizer, entity_labels: Sequence[str]) -> int:
    """Register markers as special tokens (never split, never lower-cased); returns how many were new."""
    return tokenizer.add_tokens(marker_tokens(entity_labels), special_tokens=True)


def relation_types(schema) -> set[str]:
    """Entity labels that can be an argument of some relation; only these are marked."""
    return {label for rel in schema.relations for label in (*rel.heads, *rel.tails)}


def marked_spans(entities: Sequence[tuple], schema) -> list[int]:
    """Indices of the entities to mark, in reading order: those a relation can take."""
    types = relation_types(schema)
    return sorted((k for k, e in enumerate(entities) if e[2] in types), key=lambda k: (entities[k][0], -entities[k][1]))


class _Cost:
    """Subwords a word range takes in a window, markers included. Every entity starting in the range
    is charged two markers, an upper bound on the markers the window holds (it marks the entities lying
    wholly inside), so a range that passes here always fits."""

    def __init__(self, tokenizer, pieces: WordPieces, spans: Sequence[Span], max_length: int):
        prefix, suffix = special_tokens(tokenizer)
        self.budget = max_length - len(prefix) - len(suffix)
        self.cum = [0]
        for piece in pieces.pieces:
            self.cum.append(self.cum[-1] + len(piece))
        self.starts = [s[0] for s in spans]  # sorted

    def __call__(self, lo: int, hi: int) -> int:
        return self.cum[hi] - self.cum[lo] + 2 * (bisect_left(self.starts, hi) - bisect_left(self.starts, lo))

    def fits(self, lo: int, hi: int) -> bool:
        return self(lo, hi) <= self.budget


def _pair_range(spans: Sequence[Span], h: int, t: int) -> tuple[int, int]:
    return min(spans[h][0], spans[t][0]), max(spans[h][1], spans[t][1])


def pairs_in_reach(
    spans: Sequence[Span], schema, pieces: WordPieces, max_length: int, tokenizer
) -> tuple[list[tuple[int, int]], int]:
    """Candidate pairs whose mentions fit one window together, and how many candidates do not.

    ``spans`` are one sentence's marked ``(start, end, label)`` word spans, sorted by start. Work grows
    with the pairs in reach, not with all pairs: a long run-on "sentence" with thousands of predicted
    mentions stays linear. Out-of-reach candidates are counted (per-label suffix counts), never
    enumerated, so callers can report them.
    """
    cost = _Cost(tokenizer, pieces, spans, max_length)
    labels = sorted({s[2] for s in spans})
    index = {label: k for k, label in enumerate(labels)}
    # later_fits[a][b]: pairs (earlier a, later b) in either role order that are candidates
    later_fits = [[schema.is_candidate(a, 0, b, 1) + schema.is_candidate(b, 1, a, 0) for b in labels] for a in labels]
    suffix = [[0] * len(labels) for _ in range(len(spans) + 1)]
    for i in range(len(spans) - 1, -1, -1):
        suffix[i] = list(suffix[i + 1])
        suffix[i][index[spans[i][2]]] += 1
    pairs, lost = [], 0
    for i, (hs, _, hl) in enumerate(spans):
        j = i + 1
        while j < len(spans) and cost.fits(*_pair_range(spans, i, j)):
            ts, _, tl = spans[j]
            if schema.is_candidate(hl, hs, tl, ts):
                pairs.append((i, j))
            if schema.is_candidate(tl, ts, hl, hs):
                pairs.append((j, i))
            j += 1
        lost += sum(count * fits for count, fits in zip(suffix[j], later_fits[index[hl]]))
    return pairs, lost


@dataclass(frozen=True)
class MarkedWindow:
    """One encoder input: words ``[lo, hi)`` of a sentence with every entity inside them marked."""

    input_ids: tuple[int, ...]
    markers: dict[int, tuple[int, int]]  # entity index -> positions of its opening and closing marker
    pairs: tuple[tuple[int, int], ...]  # (head, tail) entity indices scored in this window
    word_ids: tuple[int | None, ...] = ()  # sentence word index per position, None for special tokens and markers

    def pair_features(self) -> dict:
        return {
            "head_spans": [list(self.markers[h]) for h, _ in self.pairs],
            "tail_spans": [list(self.markers[t]) for _, t in self.pairs],
        }


def pair_slices(windows, max_range_tokens: int | None):
    """Each window, or (with ``max_range_tokens``) the window once per slice of its pairs whose count times
    its width fits: a graph that pools pairs densely (``backend=onnx``) would otherwise hold a long
    sentence's many pairs in one tensor."""
    for window in windows:
        per = max(1, max_range_tokens // len(window.input_ids)) if max_range_tokens else None
        if per is None or len(window.pairs) <= per:
            yield window
            continue
        for k in range(0, len(window.pairs), per):
            yield replace(window, pairs=window.pairs[k : k + per])


def _encode_window(
    tokenizer, pieces: WordPieces, spans: Sequence[Span], lo: int, hi: int, pairs: Sequence[tuple[int, int]]
) -> MarkedWindow:
    prefix, suffix = special_tokens(tokenizer)
    inside = [k for k, (s, e, _) in enumerate(spans) if lo <= s and e <= hi]
    opens: dict[int, list[int]] = {}
    closes: dict[int, list[int]] = {}
    for k in inside:  # outer mentions open first and close last, so nested ones stay well formed
        opens.setdefault(spans[k][0], []).append(k)
        closes.setdefault(spans[k][1] - 1, []).append(k)
    ids, words, markers = list(prefix), [None] * len(prefix), {}
    for w in range(lo, hi):
        for k in sorted(opens.get(w, ()), key=lambda k: -spans[k][1]):
            markers[k] = (len(ids), -1)
            ids.append(tokenizer.convert_tokens_to_ids(f"<e:{spans[k][2]}>"))
            words.append(None)
        ids.extend(pieces.pieces[w])
        words.extend([w] * len(pieces.pieces[w]))
        for k in sorted(closes.get(w, ()), key=lambda k: -spans[k][0]):
            markers[k] = (markers[k][0], len(ids))
            ids.append(tokenizer.convert_tokens_to_ids(f"</e:{spans[k][2]}>"))
            words.append(None)
    ids.extend(suffix)
    words.extend([None] * len(suffix))
    return MarkedWindow(tuple(ids), markers, tuple(pairs), tuple(words))


def encode_sentence(
    tokenizer, pieces: WordPieces, spans: Sequence[Span], pairs: Sequence[tuple[int, int]], max_length: int
) -> list[MarkedWindow]:
    """The windows that score ``pairs`` (from :func:`pairs_in_reach`): the whole sentence when it fits,
    else windows grown greedily from the first pair not yet covered (rightwards first, which covers
    the most following pairs, then leftwards for context)."""
    if not pairs:
        return []
    cost = _Cost(tokenizer, pieces, spans, max_length)
    n = len(pieces.pieces)
    if cost.fits(0, n):
        return [_encode_window(tokenizer, pieces, spans, 0, n, pairs)]
    remaining = sorted(pairs, key=lambda p: _pair_range(spans, *p))
    windows = []
    while remaining:
        lo, hi = _pair_range(spans, *remaining[0])
        if not cost.fits(lo, hi):
            raise ValueError(f"pair {remaining[0]} is not in reach; take pairs from pairs_in_reach()")
        while hi < n and cost.fits(lo, hi + 1):
            hi += 1
        while lo > 0 and cost.fits(lo - 1, hi):
            lo -= 1
        here = [p for p in remaining if lo <= _pair_range(spans, *p)[0] and _pair_range(spans, *p)[1] <= hi]
        windows.append(_encode_window(tokenizer, pieces, spans, lo, hi, here))
        taken = set(here)
        remaining = [p for p in remaining if p not in taken]
    return windows


@dataclass(frozen=True)
class SentencePairs:
    """One sentence's marked entities and the candidate pairs among them that fit a window.

    ``order[i]`` is the caller's index of marked span ``i``; ``pairs`` index ``spans``; ``lost`` counts
    the candidates out of reach."""

    order: list[int]
    spans: list[Span]
    pieces: WordPieces
    pairs: list[tuple[int, int]]
    lost: int

    def windows(self, tokenizer, max_length: int) -> list[MarkedWindow]:
        return encode_sentence(tokenizer, self.pieces, self.spans, self.pairs, max_length)


def reachable_pairs(
    tokenizer,
    words: Sequence[str],
    entities: Sequence[tuple],
    schema,
    max_length: int,
    pieces: WordPieces | None = None,
) -> SentencePairs | None:
    """What training, prediction and the data report all start from: the entities to mark (of
    ``(start, end, label, ...)`` word spans) and their pairs in reach; None with fewer than two.
    ``pieces``: the words' subwords when already tokenised (in a batch)."""
    order = marked_spans(entities, schema)
    if len(order) < 2:
        return None
    spans = [(entities[k][0], entities[k][1], entities[k][2]) for k in order]
    pieces = pieces or WordPieces(tokenizer, words)
    pairs, lost = pairs_in_reach(spans, schema, pieces, max_length, tokenizer)
    return SentencePairs(order, spans, pieces, pairs, lost)


def collate_windows(rows: Sequence[dict], pad_id: int, multiple: int = 1) -> dict[str, np.ndarray]:
    """Pad windows into a batch (width rounded up to ``multiple``) and flatten their pairs: ``pair_rows[p]``
    is the batch row of pair ``p``. Rows carry ``input_ids``, ``head_spans``, ``tail_spans``, with word
    shapes ``token_type_ids`` and, in training, per-pair ``labels`` (and ``allowed_classes``, the classes
    each pair's loss normalises over)."""
    ids, mask = pad_ids([r["input_ids"] for r in rows], pad_id, multiple)
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "pair_rows": np.array([i for i, r in enumerate(rows) for _ in r["head_spans"]], dtype=np.int64),
        "head_spans": np.array([s for r in rows for s in r["head_spans"]], dtype=np.int64).reshape(-1, 2),
        "tail_spans": np.array([s for r in rows for s in r["tail_spans"]], dtype=np.int64).reshape(-1, 2),
    }
    if "token_type_ids" in rows[0]:
        batch["token_type_ids"] = pad_ids([r["token_type_ids"] for r in rows], 0, multiple)[0]
    if "labels" in rows[0]:
        batch["labels"] = np.array([label for r in rows for label in r["labels"]], dtype=np.int64)
    if "allowed_classes" in rows[0]:
        batch["allowed_classes"] = np.array([m for r in rows for m in r["allowed_classes"]], dtype=bool)
    return batch
