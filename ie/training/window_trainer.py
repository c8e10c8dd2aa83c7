"""The Trainer, with candidates (RE pairs, span NER spans) regrouped per window when it evaluates.

A batch of windows flattens its candidates (``pair_rows[p]``, ``span_rows[k]``: the window of each). The
evaluation loop gathers outputs along their first dimension as if it counted examples, and at the end of
the dev set cuts the last batch to the number of *windows* left over (accelerate's ``gather_for_metrics``):
flat candidates past that count were dropped, so the dev score that picks the best epoch missed pairs.
Regrouped per window and padded with the ignore index, every candidate survives.

RE pairs that carry ``allowed_classes`` (every dev pair does) have the other classes' scores masked, so the
dev score decodes as the Predictor does: a model trained with ``trainer.re.loss_classes=schema`` never
trains those logits, and an argmax over them picked classes it can never emit. The evaluation sampler may
group windows by length, so the mask travels with each batch rather than by position."""

from __future__ import annotations

import torch
from transformers import Trainer

from ie.encoding.align import IGNORE_INDEX

ROW_KEYS = ("pair_rows", "span_rows")


def per_window(values: torch.Tensor, rows: torch.Tensor, windows: int, fill) -> torch.Tensor:
    """``values[i]`` (candidates in batch order, grouped by window) as ``out[rows[i], position in window]``;
    shape ``(windows, most candidates of a window, ...)``, the rest ``fill``."""
    counts = torch.bincount(rows, minlength=windows)
    width = max(int(counts.max()) if len(rows) else 0, 1)
    out = values.new_full((windows, width, *values.shape[1:]), fill)
    starts = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    out[rows, torch.arange(len(rows), device=rows.device) - starts] = values
    return out


class WindowTrainer(Trainer):
    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        key = next((k for k in ROW_KEYS if k in inputs), None)
        rows, windows = (inputs[key], inputs["input_ids"].shape[0]) if key else (None, 0)
        allowed = inputs.get("allowed_classes")
        loss, logits, labels = super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        if rows is None or logits is None:
            return loss, logits, labels
        if allowed is not None:  # a class the pair's types rule out is never predicted (the Predictor's rule)
            logits = logits.masked_fill(~allowed.to(logits.device), torch.finfo(logits.dtype).min)
        rows = rows.to(logits.device)
        return (
            loss,
            per_window(logits, rows, windows, 0.0),
            None if labels is None else per_window(labels, rows.to(labels.device), windows, IGNORE_INDEX),
        )
