"""From per-word label scores to BIO tags.

``argmax`` takes each word's best tag on its own, so it can produce an ``I-ORG`` after ``O`` or after
``B-PER``; seqeval's default mode then opens an entity there and its strict mode drops it, and either
way an entity is likely wrong. ``viterbi`` picks the most probable tag sequence among the well-formed
ones (an ``I-X`` only after ``B-X`` or ``I-X``), the usual constrained decoding of BIO taggers, and
costs one pass over the words.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import torch

DECODINGS = ("viterbi", "argmax")


def check_decoding(decoding: str) -> str:
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {list(DECODINGS)}, got {decoding!r}")
    return decoding


@lru_cache(maxsize=8)
def _constraints(labels: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Additive penalties: ``start[j]`` for a sentence opening with tag j, ``step[i, j]`` for i -> j."""
    def inside_of(tag: str) -> str | None:
        return tag[2:] if tag.startswith("I-") else None

    start = torch.tensor([float("-inf") if inside_of(t) else 0.0 for t in labels])
    step = torch.zeros(len(labels), len(labels))
    for j, tag in enumerate(labels):
        kind = inside_of(tag)
        if kind is None:
            continue
        for i, prev in enumerate(labels):
            if prev[2:] != kind or prev == "O":
                step[i, j] = float("-inf")
    return start, step


def viterbi(log_probs: torch.Tensor, labels: Sequence[str]) -> list[int]:
    """The best well-formed BIO tag sequence for one sentence; ``log_probs`` is words x labels."""
    if log_probs.size(0) == 0:
        return []
    start, step = _constraints(tuple(labels))
    score = log_probs[0] + start
    back = []
    for w in range(1, log_probs.size(0)):
        total = score[:, None] + step  # previous tag x next tag
        best, arg = total.max(0)
        back.append(arg)
        score = best + log_probs[w]
    path = [int(score.argmax())]
    for arg in reversed(back):
        path.append(int(arg[path[-1]]))
    return path[::-1]


def decode_tags(log_probs: torch.Tensor, labels: Sequence[str], decoding: str) -> list[int]:
    if decoding == "argmax":
        return log_probs.argmax(-1).tolist()
    return viterbi(log_probs, labels)
