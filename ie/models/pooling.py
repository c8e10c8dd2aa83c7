"""Max-pooling over a range of positions of an encoded batch, for many ranges at once: what a relation
pair reads between its mentions and what a candidate span reads over its words."""

from __future__ import annotations

import sys

import torch

# Elements of hidden state gathered at once: bounds memory on long sentences with many ranges (the gather
# is ranges x tokens x hidden) without a Python step per range.
POOL_BUDGET = 1 << 20


def range_max(hidden: torch.Tensor, rows: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """Max over positions ``starts[k] <= p < ends[k]`` of batch row ``rows[k]``, for every k; zeros for an
    empty range."""
    if _exporting():
        return _dense_range_max(hidden, rows, starts, ends)
    chunk = max(1, POOL_BUDGET // max(1, hidden.size(1) * hidden.size(2)))
    pooled = []
    for k in range(0, rows.size(0), chunk):
        sl = slice(k, k + chunk)
        lo, hi = int(starts[sl].min()), int(ends[sl].max())  # only the columns some range of this chunk needs
        if hi <= lo:
            pooled.append(hidden.new_zeros(starts[sl].size(0), hidden.size(-1)))
            continue
        positions = torch.arange(lo, hi, device=hidden.device)
        inside = (positions >= starts[sl, None]) & (positions < ends[sl, None])
        states = hidden[rows[sl], lo:hi].masked_fill(~inside[..., None], float("-inf")).amax(1)
        pooled.append(torch.where(inside.any(1, keepdim=True), states, torch.zeros_like(states)))
    return torch.cat(pooled) if pooled else hidden.new_zeros(0, hidden.size(-1))


def _exporting() -> bool:
    """Under a graph export. ``torch.onnx`` is looked up, never imported here: importing it costs every
    prediction process tens of modules, and an exporter that runs has imported it already."""
    onnx = sys.modules.get("torch.onnx")
    return torch.compiler.is_exporting() or (onnx is not None and onnx.is_in_onnx_export())


def _dense_range_max(hidden: torch.Tensor, rows: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """:func:`range_max` as one masked max over all positions: a graph export (``python -m ie.export``)
    cannot slice by data-dependent bounds or loop over chunks. Same values; ranges x tokens x hidden memory."""
    positions = torch.arange(hidden.size(1), device=hidden.device)
    inside = (positions >= starts[:, None]) & (positions < ends[:, None])
    states = hidden[rows].masked_fill(~inside[..., None], float("-inf")).amax(1)
    return torch.where(inside.any(1, keepdim=True), states, torch.zeros_like(states))
