"""Pair representations: the vector the relation classifier reads for a candidate pair, by name.

A representation turns the encoded, marked sentence into one vector per pair. ``model.pair_representation``
names one; the RE checkpoint's ``config.json`` stores the name (``pair_representation``), and the
classifier's input width comes from it, so the training model (:class:`ie.models.modeling.MarkerRelationModel`)
and the lean inference encoder (:mod:`ie.models.lean_bert`) always read a pair the same way. A new
representation is one function here and one entry in :data:`REPRESENTATIONS`. Checkpoints saved before
the name was stored used :data:`DEFAULT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ie.errors import ConfigError
from ie.models.pooling import range_max

CONFIG_KEY = "pair_representation"  # the name's key in a checkpoint's config.json


def between_max(hidden: torch.Tensor, pair_rows: torch.Tensor, head_spans: torch.Tensor,
                tail_spans: torch.Tensor) -> torch.Tensor:
    """Max over the tokens strictly between the two mentions of each pair (zeros when they touch).
    ``*_spans`` are ``[open, close]`` marker positions; ``pair_rows`` the batch row of each pair."""
    first_close = torch.where(head_spans[:, 0] < tail_spans[:, 0], head_spans[:, 1], tail_spans[:, 1])
    second_open = torch.maximum(head_spans[:, 0], tail_spans[:, 0])
    return range_max(hidden, pair_rows, first_close + 1, second_open)


def markers_between_max(hidden: torch.Tensor, pair_rows: torch.Tensor, head_spans: torch.Tensor,
                        tail_spans: torch.Tensor) -> torch.Tensor:
    """[head opening marker; tail opening marker; max-pooled text between the mentions]: typed markers
    as in Zhong & Chen 2021 (PURE), context pooling as in Eberts & Ulges 2020 (SpERT)."""
    return torch.cat([hidden[pair_rows, head_spans[:, 0]], hidden[pair_rows, tail_spans[:, 0]],
                      between_max(hidden, pair_rows, head_spans, tail_spans)], dim=-1)


@dataclass(frozen=True)
class PairRepresentation:
    vectors: Callable[..., torch.Tensor]  # (hidden, pair_rows, head_spans, tail_spans) -> pairs x width
    hidden_multiple: int  # width = hidden_multiple * hidden size

    def width(self, hidden_size: int) -> int:
        return self.hidden_multiple * hidden_size


REPRESENTATIONS = {"markers_between_max": PairRepresentation(markers_between_max, 3)}
DEFAULT = "markers_between_max"


def representation(name: str | None) -> PairRepresentation:
    """The representation called ``name`` (``None``: a checkpoint older than the name, :data:`DEFAULT`)."""
    name = DEFAULT if name is None else name
    if name not in REPRESENTATIONS:
        raise ConfigError(f"model.pair_representation: unknown '{name}' (known: {', '.join(REPRESENTATIONS)})")
    return REPRESENTATIONS[name]


def of_config(config) -> PairRepresentation:
    """The representation a model config names (transformers' ``PretrainedConfig`` or the lean one)."""
    return representation(getattr(config, CONFIG_KEY, None))
