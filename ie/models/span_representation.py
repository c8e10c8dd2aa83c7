"""How span NER represents a candidate span (:mod:`ie.models.span_ner`), shared by the training model and
the lean inference backend, so both read a span the same way. Free of transformers' modeling stack."""

from __future__ import annotations

import torch

from ie.models.pooling import range_max

ARCHITECTURE = "SpanNerModel"  # the class name config.json records for the span NER head
WIDTH_DIM = 25  # SpERT's width embedding size


def span_vectors(hidden: torch.Tensor, rows: torch.Tensor, bounds: torch.Tensor, widths: torch.Tensor,
                 width_table) -> torch.Tensor:
    """[first subword; last subword; max over the span's subwords; width embedding] of each candidate;
    ``bounds`` are first and last subword positions (inclusive)."""
    return torch.cat([hidden[rows, bounds[:, 0]], hidden[rows, bounds[:, 1]],
                      range_max(hidden, rows, bounds[:, 0], bounds[:, 1] + 1),
                      width_table(widths).to(hidden.dtype)], dim=-1)
