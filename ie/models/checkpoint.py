"""Checkpoint folders: written atomically, described by ``ie.json``, always with their schema; read
back with every damaged or missing file named.

A folder is assembled under a temporary name and renamed into place only when complete, so a killed
save never leaves something that looks like a finished checkpoint. ``ie.json`` is written last.
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ie.data.schema import Schema, SchemaError
from ie.errors import IEError

INFO_FILE = "ie.json"
SCHEMA_FILE = "schema.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1
DAMAGED = "the checkpoint is damaged (a truncated copy or an interrupted write?): copy the run again or retrain"


class CheckpointError(IEError, ValueError):
    """A checkpoint folder is missing, incomplete, damaged, unsafe or does not match what it is used with."""


@dataclass(frozen=True)
class CheckpointInfo:
    task: str
    schema: Schema
    max_length: int
    stride: int
    extra: dict


def save_checkpoint(model, tokenizer, schema: Schema, dest: str | Path, task: str, max_length: int,
                    stride: int = 0, **extra) -> Path:
    dest = Path(dest)
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):  # left by a save that was killed
        shutil.rmtree(stale)
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    model.save_pretrained(tmp)  # safetensors
    tokenizer.save_pretrained(tmp)
    schema.save(tmp / SCHEMA_FILE)
    info = {"format_version": FORMAT_VERSION, "task": task, "max_length": max_length, "stride": stride, **extra}
    (tmp / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def read_checkpoint_info(path: str | Path, task: str, weights: bool = True) -> CheckpointInfo:
    """``ie.json`` and the schema of a checkpoint folder; ``weights=False`` for a folder that holds an
    exported graph instead of safetensors (:mod:`ie.inference.onnx_backend`)."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: checkpoint folder not found")
    info_path = path / INFO_FILE
    if not info_path.exists():
        raise CheckpointError(f"{path}: no {INFO_FILE}; not a complete checkpoint of this project")
    if weights and not (path / WEIGHTS_FILE).exists() and not any(path.glob("model-*.safetensors")):
        pickled = [p.name for p in path.glob("*.bin")]
        reason = f"only pickle weights {pickled}, which are never loaded" if pickled else "no safetensors weights"
        raise CheckpointError(f"{path}: {reason}")
    info = read_json(info_path)
    if info.get("task") != task:
        raise CheckpointError(f"{path}: a '{info.get('task')}' checkpoint, expected '{task}'")
    if info.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {info.get('format_version')}, this code reads "
                              f"{FORMAT_VERSION}")
    try:
        schema = Schema.load(path / SCHEMA_FILE)
    except SchemaError as error:
        raise CheckpointError(f"{error}; {DAMAGED}") from None
    extra = {k: v for k, v in info.items() if k not in {"format_version", "task", "max_length", "stride"}}
    return CheckpointInfo(task, schema, int(info["max_length"]), int(info.get("stride", 0)), extra)


def read_json(path: Path) -> dict:
    """A JSON file of a checkpoint; a damaged one is a :class:`CheckpointError` naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path}: not valid JSON ({err.msg}, line {err.lineno}); {DAMAGED}") from None


@contextmanager
def reading_weights(path: Path):
    """Turns safetensors' own errors (``incomplete metadata``, ...) into a :class:`CheckpointError` that
    names the file."""
    from safetensors import SafetensorError

    try:
        yield
    except SafetensorError as err:
        raise CheckpointError(f"{path}: cannot read the weights ({err}); {DAMAGED}") from None


class SavedTokenizer:
    """A run's saved tokenizer without transformers: the attributes this project reads of one
    (see :mod:`ie.encoding.tokenization`)."""

    def __init__(self, folder: str | Path):
        from tokenizers import Tokenizer

        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.exists():
            raise CheckpointError(f"{folder}: no tokenizer.json (a fast tokenizer's file); cannot tokenize")
        try:
            self.backend_tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises a bare Exception for a file it cannot parse
            raise CheckpointError(f"{path}: cannot read the tokenizer ({err}); {DAMAGED}") from None
        config_path = folder / "tokenizer_config.json"
        config = read_json(config_path) if config_path.exists() else {}
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
