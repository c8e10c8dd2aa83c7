"""The Trainer's collators: the encoding layer's NumPy batches (:func:`ie.encoding.markers.collate_windows`,
:func:`ie.encoding.spans.collate_spans`) as tensors."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from ie.encoding.markers import collate_windows
from ie.encoding.shared_pairs import collate_joint
from ie.encoding.spans import collate_spans


def as_tensors(batch: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(array) for name, array in batch.items()}


class _Collator:
    collate: Callable[..., dict[str, np.ndarray]]

    def __init__(self, tokenizer, multiple: int = 1):
        self.pad_id = tokenizer.pad_token_id or 0
        self.multiple = multiple

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        return as_tensors(type(self).collate(rows, self.pad_id, self.multiple))


class WindowCollator(_Collator):
    """RE windows with every entity marked, their pairs flattened over the batch."""

    collate = staticmethod(collate_windows)


class SpanCollator(_Collator):
    """Span NER windows, their candidate spans flattened over the batch."""

    collate = staticmethod(collate_spans)


class JointCollator(_Collator):
    """NER windows with their token labels and candidate pairs, for a shared encoder."""

    collate = staticmethod(collate_joint)
