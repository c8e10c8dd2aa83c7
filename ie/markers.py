"""Typed entity markers for relation classification.

The sentence is fed with the head and tail wrapped in markers that carry their entity type,
``<h:PER> Denis Manturov </h:PER> met with <t:PER> ... </t:PER>``; the relation model reads the
pair at the two opening markers (Zhong & Chen 2021, "typed entity markers").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ie.align import WordPieces, special_tokens


def marker_tokens(entity_labels: Sequence[str]) -> list[str]:
    tokens = []
    for label in entity_labels:
        tokens += [f"<h:{label}>", f"</h:{label}>", f"<t:{label}>", f"</t:{label}>"]
    return tokens


def add_marker_tokens(tokenizer, entity_labels: Sequence[str]) -> int:
    """Register markers as special tokens (never split, never lower-cased); returns how many were new."""
    return tokenizer.add_tokens(marker_tokens(entity_labels), special_tokens=True)


def _pair_budget(tokenizer, max_length: int) -> int:
    """Subwords left for words once special tokens and the four markers are in."""
    prefix, suffix = special_tokens(tokenizer)
    return max_length - len(prefix) - len(suffix) - 4


def pair_fits(tokenizer, pieces: WordPieces, head: tuple[int, int, str], tail: tuple[int, int, str],
              max_length: int) -> bool:
    """Whether both mentions, with every word between them, fit one RE window."""
    lo, hi = min(head[0], tail[0]), max(head[1], tail[1])
    return sum(len(p) for p in pieces.pieces[lo:hi]) <= _pair_budget(tokenizer, max_length)


@dataclass(frozen=True)
class PairInput:
    input_ids: tuple[int, ...]
    head_index: int  # position of the opening head marker
    tail_index: int  # position of the opening tail marker


def encode_pair(tokenizer, pieces: WordPieces, head: tuple[int, int, str], tail: tuple[int, int, str],
                max_length: int) -> PairInput | None:
    """Encode one candidate pair (word spans ``(start, end, label)``) with typed markers.

    When the sentence does not fit, a window of words around the pair is used, context spread on
    both sides. Returns ``None`` only when the two mentions alone (with everything between them)
    exceed ``max_length``; callers count those as lost rather than dropping them silently.
    """
    h_open, h_close, t_open, t_close = tokenizer.convert_tokens_to_ids(
        [f"<h:{head[2]}>", f"</h:{head[2]}>", f"<t:{tail[2]}>", f"</t:{tail[2]}>"])
    prefix, suffix = special_tokens(tokenizer)
    budget = _pair_budget(tokenizer, max_length)
    lengths = [len(p) for p in pieces.pieces]
    if not pair_fits(tokenizer, pieces, head, tail, max_length):
        return None
    lo, hi = min(head[0], tail[0]), max(head[1], tail[1])
    used = sum(lengths[lo:hi])
    # grow the window alternately to the left and right while it fits
    grew = True
    while grew:
        grew = False
        if lo > 0 and used + lengths[lo - 1] <= budget:
            lo -= 1
            used += lengths[lo]
            grew = True
        if hi < len(lengths) and used + lengths[hi] <= budget:
            used += lengths[hi]
            hi += 1
            grew = True
    ids = list(prefix)
    head_index = tail_index = -1
    for w in range(lo, hi):
        if w == head[0]:
            head_index = len(ids)
            ids.append(h_open)
        if w == tail[0]:
            tail_index = len(ids)
            ids.append(t_open)
        ids.extend(pieces.pieces[w])
        if w == head[1] - 1:
            ids.append(h_close)
        if w == tail[1] - 1:
            ids.append(t_close)
    ids.extend(suffix)
    return PairInput(tuple(ids), head_index, tail_index)


def pairs_in_reach(spans: Sequence[tuple[int, int, str]], schema, pieces: WordPieces, max_length: int, tokenizer
                   ) -> tuple[list[tuple[int, int]], int]:
    """Candidate pairs whose mentions fit one RE window together, and how many candidates do not.

    ``spans`` are one sentence's non-overlapping ``(start, end, label)`` word spans, sorted by start.
    Work grows with the pairs in reach, not with all pairs: a long run-on "sentence" with thousands of
    predicted mentions stays linear. Out-of-reach candidates are counted (per-label suffix counts),
    never enumerated, so callers can report them.
    """
    budget = _pair_budget(tokenizer, max_length)
    cum = [0]
    for piece in pieces.pieces:
        cum.append(cum[-1] + len(piece))
    labels = list(schema.entity_labels)
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
        while j < len(spans) and cum[spans[j][1]] - cum[hs] <= budget:
            ts, _, tl = spans[j]
            if schema.is_candidate(hl, hs, tl, ts):
                pairs.append((i, j))
            if schema.is_candidate(tl, ts, hl, hs):
                pairs.append((j, i))
            j += 1
        lost += sum(count * fits for count, fits in zip(suffix[j], later_fits[index[hl]]))
    return pairs, lost
