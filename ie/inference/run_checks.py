"""What every backend checks when it loads a run: which checkpoints the run has, that each fits its schema
and the two fit each other, how they read text. Free of torch, so the ONNX Runtime backend
(:mod:`ie.inference.onnx_backend`) shares it with the torch backends (:mod:`ie.inference.loading`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ie.data.schema import Schema
from ie.data.text import DEFAULT_SEGMENTER, check_segmenter
from ie.encoding.markers import ENCODING as RE_ENCODING
from ie.encoding.shared_pairs import ENCODING as SHARED_ENCODING
from ie.errors import ConfigError
from ie.models.checkpoint import CheckpointError, CheckpointInfo, SavedTokenizer, read_checkpoint_info, read_json
from ie.runs import TASKS, RunNotFoundError

# auto: ONNX Runtime where an export of the run was measured faster than torch on this CPU, else lean where
# it supports the checkpoint, else transformers (ie.inference.predictor.Predictor.from_pretrained).
BACKENDS = ("auto", "lean", "transformers", "onnx")


@dataclass
class LoadedTask:
    """One checkpoint ready to run: its model (a torch module, or an exported graph), tokenizer and what
    ``ie.json`` says of it."""

    model: Any
    tokenizer: SavedTokenizer
    info: CheckpointInfo


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    return backend


def tasks_found(run_dir: str | Path, tasks: Sequence[str] | str) -> tuple[Path, list[str]]:
    """The run folder and those of ``tasks`` it has a checkpoint folder for (at least one)."""
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    if not tasks or set(tasks) - set(TASKS):
        raise ConfigError(f"tasks: expected a non-empty subset of {TASKS}, got {tasks}")
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunNotFoundError(f"run folder not found: {run_dir}")
    found = [task for task in TASKS if task in tasks and (run_dir / task).exists()]
    if not found:
        raise CheckpointError(f"{run_dir}: no {' or '.join(t + '/' for t in tasks)} checkpoint found")
    return run_dir, found


def read_info(path: Path, task: str, weights: bool = True) -> CheckpointInfo:
    """``ie.json`` of a checkpoint folder, checked as far as it can be without loading weights."""
    info = read_checkpoint_info(path, task, weights)
    if task == "re" and info.extra.get("encoding") not in (RE_ENCODING, SHARED_ENCODING):
        raise CheckpointError(
            f"{path}: RE checkpoint encoding {info.extra.get('encoding')!r} (one encoder "
            f"pass per pair, before all pairs were scored at once); this code reads "
            f"{RE_ENCODING!r} and {SHARED_ENCODING!r}: retrain the RE model"
        )
    read_json(path / "config.json")  # a damaged one is named here, whichever backend reads it
    return info


def expected_labels(info: CheckpointInfo) -> list[str]:
    """The classes a checkpoint's head must have, in order, by its schema."""
    if info.task == "re":
        return info.schema.relation_labels
    return info.schema.span_labels if info.extra.get("ner_head") == "span" else info.schema.bio_tags


def check_labels(path: Path, actual: list[str], info: CheckpointInfo) -> None:
    expected = expected_labels(info)
    if actual != expected:
        raise CheckpointError(f"{path}: model labels {actual} differ from the labels of its schema {expected}")


def check_together(run_dir: Path, loaded: dict[str, LoadedTask]) -> None:
    """The NER and RE checkpoints of one run were trained on one schema and read text alike."""
    if len(loaded) == 2:
        diffs = loaded["ner"].info.schema.differences(loaded["re"].info.schema)
        if diffs:
            raise CheckpointError(
                f"{run_dir}: NER and RE checkpoints were trained on different schemas: " + "; ".join(diffs)
            )
    segmenters = {segmenter_of(task.info) for task in loaded.values()}
    if len(segmenters) > 1:
        raise CheckpointError(
            f"{run_dir}: NER and RE checkpoints read text with different segmenters {sorted(segmenters)}"
        )


def segmenter_of(info: CheckpointInfo) -> str:
    """How the checkpoint's training text became words; checkpoints from before it was recorded used the
    default."""
    return check_segmenter(info.extra.get("segmenter", DEFAULT_SEGMENTER))


def schema_of(loaded: dict[str, LoadedTask]) -> Schema:
    return next(iter(loaded.values())).info.schema
