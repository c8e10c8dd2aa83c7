"""Alignment between words and subwords; the one place training and prediction share.

* words -> subword windows that fit the encoder (overlapping, never silently cut), with the word each
  window "owns" so overlapping predictions merge deterministically;
* first-subword labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ie.encoding.tokenization import encode_words

IGNORE_INDEX = -100  # label ignored by the loss (non-first subwords, special tokens)
# Batch widths (training and prediction) are rounded up to this: fewer distinct shapes for oneDNN to
# build kernels for (forward and backward), and tile-aligned on AMX.
PAD_TO_MULTIPLE = 8


# --- words -> subwords ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One encoder input: a contiguous run of words and the words whose predictions it keeps."""

    word_start: int
    word_end: int
    own_start: int
    own_end: int
    input_ids: tuple[int, ...]
    word_ids: tuple[int | None, ...]  # sentence word index per position, None for special tokens

    def owned_first_subwords(self) -> list[tuple[int, int]]:
        """``(word, position of its first subword)`` for the words this window owns."""
        return [(w, pos) for w, pos in self.first_subword_positions().items() if self.own_start <= w < self.own_end]

    def first_subword_positions(self) -> dict[int, int]:
        """word index -> position of its first subword in ``input_ids``."""
        first: dict[int, int] = {}
        for pos, w in enumerate(self.word_ids):
            if w is not None and w not in first:
                first[w] = pos
        return first


class WordPieces:
    """Subword ids per word, computed once per tokenizer call and reused to build windows.

    A word the tokenizer maps to nothing (zero-width or control characters) gets the unknown token,
    so every word has a first subword to carry its label.
    """

    def __init__(self, tokenizer, words: Sequence[str], _encoding=None):
        self.tokenizer = tokenizer
        self.pieces: list[list[int]] = [[] for _ in words]
        if words:
            enc = _encoding or encode_words(tokenizer, [words])[0]
            for tok_id, w in zip(enc.ids, enc.word_ids):
                self.pieces[w].append(tok_id)
        unk = tokenizer.unk_token_id
        for piece in self.pieces:
            if not piece:
                piece.append(unk)

    @classmethod
    def many(cls, tokenizer, sentences: Sequence[Sequence[str]]) -> list[WordPieces]:
        """One tokenizer call for all sentences: the Rust tokenizer works through a batch at once,
        where a call per sentence pays Python overhead each time."""
        encodings = iter(encode_words(tokenizer, [words for words in sentences if words]))
        return [cls(tokenizer, words, next(encodings) if words else None) for words in sentences]


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a single sequence ([CLS] / [SEP] for BERT)."""
    cached = getattr(tokenizer, "_ie_special_tokens", None)
    if cached is None:
        enc = encode_words(tokenizer, [["x"]], add_special_tokens=True)[0]
        ids, wids = enc.ids, enc.word_ids
        first = wids.index(0)
        last = len(wids) - 1 - wids[::-1].index(0)
        cached = (list(ids[:first]), list(ids[last + 1 :]))
        tokenizer._ie_special_tokens = cached
    return cached


def window_budget(tokenizer, max_length: int) -> int:
    """Subwords of text one encoder window holds once the special tokens are in."""
    prefix, suffix = special_tokens(tokenizer)
    return max_length - len(prefix) - len(suffix)


def plan_windows(lengths: Sequence[int], budget: int, stride: int) -> list[tuple[int, int]]:
    """Contiguous word ranges whose subword lengths fit ``budget``, consecutive ranges overlapping by
    up to ``stride`` subwords of context. Lengths must already be capped at ``budget``."""
    n = len(lengths)
    if n == 0:
        return [(0, 0)]
    windows, start = [], 0
    while True:
        end, used = start, 0
        while end < n and used + lengths[end] <= budget:
            used += lengths[end]
            end += 1
        windows.append((start, end))
        if end >= n:
            return windows
        nxt, overlap = end, 0
        while nxt - 1 > start and overlap + lengths[nxt - 1] <= stride:
            nxt -= 1
            overlap += lengths[nxt]
        start = nxt


def owners(windows: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """For each window the words it owns: each word goes to the window where it sits furthest from
    an edge (ties to the earlier window), so merged predictions do not depend on batch order."""
    owned = []
    for k, (a, _) in enumerate(windows):
        if k == 0:
            lo = a
        else:
            pa, pb = windows[k - 1]
            # words in the overlap [a, pb): keep here where the distance to this window's left edge
            # exceeds the distance to the previous window's right edge
            lo = next((w for w in range(a, pb) if w - a > (pb - 1) - w), pb)
        owned.append(lo)
    ranges = []
    for k, (_, b) in enumerate(windows):
        hi = owned[k + 1] if k + 1 < len(windows) else b
        ranges.append((owned[k], hi))
    return ranges


def encode_windows(
    tokenizer,
    words: Sequence[str],
    max_length: int,
    stride: int,
    pieces: WordPieces | None = None,
    left: Sequence[int] = (),
    right: Sequence[int] = (),
) -> list[Window]:
    """Encoder inputs covering every word of ``words`` (one window when it fits). ``left`` and ``right``
    are subwords of the text around the sentence (:func:`neighbour_context`): when the sentence fits one
    window, as much of them as the window has room for goes around it, as context without words (no
    label is read there), half the room each side unless one side needs less."""
    pieces = pieces or WordPieces(tokenizer, words)
    prefix, suffix = special_tokens(tokenizer)
    budget = window_budget(tokenizer, max_length)
    if budget < 1:
        raise ValueError(f"max_length={max_length} leaves no room for text after special tokens")
    # A single word longer than the window keeps its first subwords: its label lives on the first.
    capped = [p[:budget] for p in pieces.pieces]
    spans = plan_windows([len(p) for p in capped], budget, min(stride, budget - 1))
    before, after = [], []
    if len(spans) == 1 and (left or right):
        room = budget - sum(len(p) for p in capped)
        take_right = min(len(right), max(room // 2, room - len(left)))
        take_left = min(len(left), room - take_right)
        before, after = list(left[len(left) - take_left :]), list(right[:take_right])
    result = []
    for (a, b), (lo, hi) in zip(spans, owners(spans)):
        ids, wids = list(prefix) + before, [None] * (len(prefix) + len(before))
        for w in range(a, b):
            ids.extend(capped[w])
            wids.extend([w] * len(capped[w]))
        ids.extend(after + list(suffix))
        wids.extend([None] * (len(after) + len(suffix)))
        result.append(Window(a, b, lo, hi, tuple(ids), tuple(wids)))
    return result


def neighbour_context(
    pieces: Sequence[WordPieces], documents: Sequence, size: int
) -> list[tuple[list[int], list[int]]]:
    """Per sentence, the last ``size`` subwords of the sentence before it and the first ``size`` of the
    one after it, where those belong to the same document (``documents[i]``: sentence i's document)."""
    flat = [[tok for piece in p.pieces for tok in piece] for p in pieces]
    out = []
    for i, doc in enumerate(documents):
        left = flat[i - 1][-size:] if size and i > 0 and documents[i - 1] == doc else []
        right = flat[i + 1][:size] if size and i + 1 < len(flat) and documents[i + 1] == doc else []
        out.append((left, right))
    return out


def first_subword_labels(window: Window, word_labels: Sequence[int]) -> list[int]:
    """Label ids per position: the word's label on its first subword, ``IGNORE_INDEX`` elsewhere."""
    labels, seen = [], set()
    for w in window.word_ids:
        if w is None or w in seen:
            labels.append(IGNORE_INDEX)
        else:
            seen.add(w)
            labels.append(word_labels[w])
    return labels


def pad_ids(rows: Sequence[Sequence[int]], pad_id: int, multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Token id rows as one right-padded int64 batch, with its attention mask; the width is rounded up to
    a ``multiple``. NumPy, so that the ONNX Runtime backend needs no torch; the Trainer's collators make
    tensors of it (:mod:`ie.training.collators`)."""
    width = -(-max(len(r) for r in rows) // multiple) * multiple
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return ids, mask
