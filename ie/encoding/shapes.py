"""Word shapes for an uncased encoder: the case the tokenizer lowers, given back as token types.

all-MiniLM-L6-v2 lower-cases its input, so "Chamber" and "chamber", "US" and "us" look the same to it.
With ``model.word_shapes`` every subword carries its word's shape class as its token type id, and the
encoder's token type embeddings (one row for BERT's single segment) grow to one row per class. Every
new row starts as a copy of the pretrained row, so the model starts exactly where the pretrained encoder
was and learns what case means. Special tokens and entity markers take class 0, the pretrained row.

A scheme is named and stored in each checkpoint's ``ie.json`` (``word_shapes``), so the Predictor gives a
model the shapes it was trained with; a checkpoint without the key gets none, as before shapes existed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ie.errors import ConfigError

CASE = ("lower or none", "title", "upper", "mixed", "digits", "letters and digits")


def case_shape(word: str) -> int:
    """The index in :data:`CASE` of ``word``: ``Chamber`` title, ``ASTANA`` upper, ``KazMunayGas`` mixed,
    ``2024`` digits, ``A320`` letters and digits; lower-case words and punctuation 0."""
    letters = [c for c in word if c.isalpha()]
    digits = any(c.isdigit() for c in word)
    if not letters:
        return 4 if digits else 0
    if digits:
        return 5
    if all(c.islower() for c in letters):
        return 0
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return 2
    return 1 if word.istitle() else 3


SCHEMES: dict[str, tuple[Callable[[str], int], int]] = {"case": (case_shape, len(CASE))}
DEFAULT = "case"


def scheme(name: str) -> tuple[Callable[[str], int], int]:
    """The shape function and the number of classes of a scheme name."""
    if name not in SCHEMES:
        raise ConfigError(f"word shapes: unknown scheme '{name}' (known: {', '.join(SCHEMES)})")
    return SCHEMES[name]


def word_shapes(words: Sequence[str], name: str = DEFAULT) -> list[int]:
    shape, _ = scheme(name)
    return [shape(word) for word in words]


def token_types(word_ids: Sequence[int | None], shapes: Sequence[int]) -> list[int]:
    """Per position of an encoder input, its word's shape (0 where no word: special tokens, markers)."""
    return [0 if w is None else shapes[w] for w in word_ids]
