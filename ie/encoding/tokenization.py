"""The few tokenizer calls this project makes, made on the Rust tokenizer (``tokenizers``) itself.

Training loads tokenizers with transformers' ``AutoTokenizer`` (any model id or folder); a Predictor
loads only the ``tokenizer.json`` a run saved (:class:`ie.models.checkpoint.SavedTokenizer`), which
keeps transformers' tokenizer stack (~40 MB resident) out of a service. Both go through
:func:`encode_words`, so words become the same subwords either way.
"""

from __future__ import annotations

from collections.abc import Sequence


def backend(tokenizer):
    """The ``tokenizers.Tokenizer`` under a transformers fast tokenizer, or the tokenizer itself."""
    rust = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if rust.truncation is not None or rust.padding is not None:  # left on by a transformers call
        rust.no_truncation()
        rust.no_padding()
    return rust


def encode_words(tokenizer, sentences: Sequence[Sequence[str]], add_special_tokens: bool = False) -> list:
    """One ``tokenizers.Encoding`` (``.ids``, ``.word_ids``) per sentence of words; one call for all."""
    return (
        backend(tokenizer).encode_batch(
            [list(words) for words in sentences], is_pretokenized=True, add_special_tokens=add_special_tokens
        )
        if sentences
        else []
    )
