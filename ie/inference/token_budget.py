"""Encoder batches bounded by padded tokens, not only by count: activation memory follows the padded
tokens, so a batch of long sentences gets fewer of them."""

from __future__ import annotations

from collections.abc import Sequence

from tqdm.auto import tqdm


def token_budget_batches(
    items: Sequence,
    lengths: Sequence[int],
    size: int,
    max_tokens: int,
    progress: str | bool = False,
    ranges: Sequence[int] | None = None,
    max_range_tokens: int | None = None,
):
    """Consecutive slices of length-sorted ``items`` of at most ``size`` items and at most ``max_tokens``
    padded tokens (an item longer than that goes alone). With ``max_range_tokens``, also at most that many
    (pooled ranges x padded width), ``ranges`` giving each item's ranges (relation pairs, candidate spans):
    what an exported graph's dense pooling holds in memory. With ``progress`` (a label), a progress bar."""
    starts, count, pooled = [0], 0, 0
    for i, n in enumerate(lengths):
        extra = ranges[i] if ranges is not None and max_range_tokens else 0
        if count and (
            count == size
            or (count + 1) * n > max_tokens
            or (max_range_tokens and (pooled + extra) * n > max_range_tokens)
        ):
            starts.append(i)
            count = pooled = 0
        count += 1
        pooled += extra
    bounds = list(zip(starts, starts[1:] + [len(items)])) if items else []
    for a, b in tqdm(bounds, desc=progress or None, unit="batch", disable=not progress, leave=False):
        yield items[a:b]
