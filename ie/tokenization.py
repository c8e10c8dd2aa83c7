"""The few tokenizer calls this project makes, made on the Rust tokenizer (``tokenizers``) itself.

Training loads tokenizers with transformers' ``AutoTokenizer`` (any model id or folder); a Predictor
loads only the ``tokenizer.json`` a run saved (:class:`SavedTokenizer`), which keeps transformers'
tokenizer stack (~40 MB resident) out of a service. Both go through :func:`encode_words`, so words
become the same subwords either way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence


def backend(tokenizer):
    """The ``tokenizers.Tokenizer`` under a transformers fast tokenizer, or the tokenizer itself."""
    rust = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if rust.truncation is not None or rust.padding is not None:  # left on by a transformers call
        rust.no_truncation()
        rust.no_padding()
    return rust


def encode_words(tokenizer, sentences: Sequence[Sequence[str]], add_special_tokens: bool = False) -> list:
    """One ``tokenizers.Encoding`` (``.ids``, ``.word_ids``) per sentence of words; one call for all."""
    return backend(tokenizer).encode_batch([list(words) for words in sentences], is_pretokenized=True,
                                           add_special_tokens=add_special_tokens) if sentences else []


class SavedTokenizer:
    """A run's saved tokenizer without transformers: the attributes this project reads of one."""

    def __init__(self, folder: str | Path):
        from tokenizers import Tokenizer

        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.exists():
            from ie.checkpoint import CheckpointError

            raise CheckpointError(f"{folder}: no tokenizer.json (a fast tokenizer's file); cannot tokenize")
        self.backend_tokenizer = Tokenizer.from_file(str(path))
        config_path = folder / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
        self.pad_token_id = self._special(config, "pad_token")
        self.unk_token_id = self._special(config, "unk_token")

    def _special(self, config: dict, name: str) -> int | None:
        token = config.get(name)
        token = token.get("content") if isinstance(token, dict) else token
        return self.backend_tokenizer.token_to_id(token) if token else None

    def convert_tokens_to_ids(self, token: str) -> int | None:
        return self.backend_tokenizer.token_to_id(token)

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)
