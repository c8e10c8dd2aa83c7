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
    budget = max_length - len(prefix) - len(suffix) - 4
    lengths = [len(p) for p in pieces.pieces]
    lo, hi = min(head[0], tail[0]), max(head[1], tail[1])
    used = sum(lengths[lo:hi])
    if used > budget:
        return None
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
