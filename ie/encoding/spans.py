"""Candidate spans for span-based NER: every run of up to ``max_words`` words of a window, read at its
first and last subword, and the batches of them (SpERT, Eberts & Ulges 2020)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ie.encoding.align import Window, pad_ids

Candidate = tuple[int, int, int, int]  # first word, end word (exclusive), first subword, last subword


def candidate_spans(window: Window, max_words: int) -> list[Candidate]:
    """Every span of up to ``max_words`` words that starts at a word the window owns and ends inside it,
    so a long sentence's overlapping windows score each span once."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for pos, w in enumerate(window.word_ids):
        if w is not None:
            first.setdefault(w, pos)
            last[w] = pos
    return [
        (i, j, first[i], last[j - 1])
        for i in range(window.own_start, window.own_end)
        for j in range(i + 1, min(i + max_words, window.word_end) + 1)
    ]


def collate_spans(rows: Sequence[dict], pad_id: int, multiple: int = 1) -> dict[str, np.ndarray]:
    """Pad windows into a batch and flatten their candidates: ``span_rows[k]`` is the batch row of
    candidate k, ``span_bounds[k]`` its first and last subword, ``span_widths[k]`` its words. Rows carry
    ``input_ids``, ``span_bounds``, ``span_widths`` (named as the model's forward arguments, so the
    Trainer keeps them), with word shapes ``token_type_ids`` and in training ``labels``."""
    ids, mask = pad_ids([r["input_ids"] for r in rows], pad_id, multiple)
    batch = {
        "input_ids": ids,
        "attention_mask": mask,
        "span_rows": np.array([i for i, r in enumerate(rows) for _ in r["span_widths"]], dtype=np.int64),
        "span_bounds": np.array([b for r in rows for b in r["span_bounds"]], dtype=np.int64).reshape(-1, 2),
        "span_widths": np.array([w for r in rows for w in r["span_widths"]], dtype=np.int64),
    }
    if "token_type_ids" in rows[0]:
        batch["token_type_ids"] = pad_ids([r["token_type_ids"] for r in rows], 0, multiple)[0]
    if "labels" in rows[0]:
        batch["labels"] = np.array([y for r in rows for y in r["labels"]], dtype=np.int64)
    return batch
