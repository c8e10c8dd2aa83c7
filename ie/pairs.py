"""Pair vectors from one encoded, marked sentence: what the relation classifier reads for a pair.

Shared by the training model (:class:`ie.modeling.MarkerRelationModel`) and the lean inference
encoder (:mod:`ie.lean_bert`), so both read a pair the same way.
"""

from __future__ import annotations

import torch

# Elements of hidden state gathered at once for the context pooling: bounds memory on long sentences
# with many pairs (the gather is pairs x tokens x hidden) without a Python step per pair.
POOL_BUDGET = 1 << 20


def between_max(hidden: torch.Tensor, pair_rows: torch.Tensor, head_spans: torch.Tensor,
                tail_spans: torch.Tensor) -> torch.Tensor:
    """Max over the tokens strictly between the two mentions of each pair (zeros when they touch).
    ``*_spans`` are ``[open, close]`` marker positions; ``pair_rows`` the batch row of each pair."""
    first_close = torch.where(head_spans[:, 0] < tail_spans[:, 0], head_spans[:, 1], tail_spans[:, 1])
    second_open = torch.maximum(head_spans[:, 0], tail_spans[:, 0])
    chunk = max(1, POOL_BUDGET // max(1, hidden.size(1) * hidden.size(2)))
    pooled = []
    for k in range(0, pair_rows.size(0), chunk):
        sl = slice(k, k + chunk)
        # only the columns some pair of this chunk needs
        lo, hi = int(first_close[sl].min()) + 1, int(second_open[sl].max())
        if hi <= lo:
            pooled.append(hidden.new_zeros(first_close[sl].size(0), hidden.size(-1)))
            continue
        positions = torch.arange(lo, hi, device=hidden.device)
        inside = (positions > first_close[sl, None]) & (positions < second_open[sl, None])
        states = hidden[pair_rows[sl], lo:hi].masked_fill(~inside[..., None], float("-inf")).amax(1)
        pooled.append(torch.where(inside.any(1, keepdim=True), states, torch.zeros_like(states)))
    return torch.cat(pooled) if pooled else hidden.new_zeros(0, hidden.size(-1))


def pair_vectors(hidden: torch.Tensor, pair_rows: torch.Tensor, head_spans: torch.Tensor,
                 tail_spans: torch.Tensor) -> torch.Tensor:
    """[head opening marker; tail opening marker; max-pooled text between the mentions]."""
    return torch.cat([hidden[pair_rows, head_spans[:, 0]], hidden[pair_rows, tail_spans[:, 0]],
                      between_max(hidden, pair_rows, head_spans, tail_spans)], dim=-1)
