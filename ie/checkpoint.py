"""Checkpoint folders: written atomically, described by ``ie.json``, always with their schema.

A folder is assembled under a temporary name and renamed into place only when complete, so a killed
save never leaves something that looks like a finished checkpoint. ``ie.json`` is written last.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ie.schema import Schema

log = logging.getLogger(__name__)

INFO_FILE = "ie.json"
SCHEMA_FILE = "schema.json"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint folder is missing, incomplete, unsafe or does not match what it is used with."""


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


def read_checkpoint_info(path: str | Path, task: str) -> CheckpointInfo:
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: checkpoint folder not found")
    info_path = path / INFO_FILE
    if not info_path.exists():
        raise CheckpointError(f"{path}: no {INFO_FILE}; not a complete checkpoint of this project")
    if not (path / "model.safetensors").exists() and not any(path.glob("model-*.safetensors")):
        pickled = [p.name for p in path.glob("*.bin")]
        reason = f"only pickle weights {pickled}, which are never loaded" if pickled else "no safetensors weights"
        raise CheckpointError(f"{path}: {reason}")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if info.get("task") != task:
        raise CheckpointError(f"{path}: a '{info.get('task')}' checkpoint, expected '{task}'")
    if info.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {info.get('format_version')}, this code reads {FORMAT_VERSION}")
    schema = Schema.load(path / SCHEMA_FILE)
    extra = {k: v for k, v in info.items() if k not in {"format_version", "task", "max_length", "stride"}}
    return CheckpointInfo(task, schema, int(info["max_length"]), int(info.get("stride", 0)), extra)


def last_trainer_checkpoint(folder: str | Path) -> Path | None:
    """The newest ``checkpoint-N`` under a Trainer output folder that was written completely.

    The Trainer writes ``trainer_state.json`` last, so a folder without it is a save that was killed
    half way; it is skipped (and named in the log) rather than resumed from.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in folder.iterdir()
                   if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name)))
    for _, path in reversed(found):
        if (path / "trainer_state.json").exists():
            return path
        log.warning("%s: incomplete (no trainer_state.json), not resumed from", path)
    return None
