"""A run's checkpoints loaded for inference: which backend runs each model, in which precision, and
every check that a run's two checkpoints fit each other and their schema.

Backends: ``lean`` runs BERT-family checkpoints on :mod:`ie.models.lean_bert` (less memory, faster
loading), ``transformers`` on the transformers classes they were trained with, ``auto`` (default) the
lean one wherever it supports the checkpoint. Precision ``bf16``: matmuls, attention and GELU in bf16,
residual stream and LayerNorms in fp32 (autocast's recipe). The lean backend stores its matmul and
embedding weights in bf16 (half the memory, no per-call casts); transformers models keep fp32 weights
with their embedding tables rounded to bf16 values, and run under autocast: the same arithmetic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from ie.data.schema import Schema
from ie.data.text import DEFAULT_SEGMENTER, check_segmenter
from ie.encoding.markers import ENCODING as RE_ENCODING
from ie.errors import ConfigError
from ie.models import lean_bert
from ie.models.span_representation import ARCHITECTURE as SPAN_ARCHITECTURE
from ie.models.checkpoint import (WEIGHTS_FILE, CheckpointError, CheckpointInfo, SavedTokenizer,
                                  read_checkpoint_info, read_json, reading_weights)
from ie.runs import TASKS, RunNotFoundError

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}
BACKENDS = ("auto", "lean", "transformers")
LEAN_MODELS = tuple(lean_bert.LEAN_CLASSES.values())


def dtype_of(precision: str) -> torch.dtype:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision]


def backend_of(model) -> str:
    return "lean" if isinstance(model, LEAN_MODELS) else "transformers"


def set_precision(model, precision: str) -> None:
    """Put a model in ``precision`` the way its backend runs it (see the module docstring)."""
    if isinstance(model, LEAN_MODELS):
        model.set_precision(dtype_of(precision))
    elif precision == "bf16":
        _round_embeddings(model)


def _round_embeddings(model: torch.nn.Module) -> None:
    """Embedding tables rounded to bf16 values (kept in fp32), for a transformers model run in bf16.
    Autocast leaves embedding lookups in fp32 but casts every matmul weight to bf16; the lean backend
    stores both in bf16. Rounding the tables gives the two backends the same arithmetic in bf16."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding):
                module.weight.copy_(module.weight.to(torch.bfloat16))


@dataclass
class LoadedTask:
    """One checkpoint ready to run: its model, tokenizer and what ``ie.json`` says of it."""

    model: torch.nn.Module
    tokenizer: SavedTokenizer
    info: CheckpointInfo


def load_run(run_dir: str | Path, tasks: Sequence[str], precision: str, backend: str) -> dict[str, LoadedTask]:
    """``run_dir/ner`` and ``run_dir/re`` (those of ``tasks`` that exist), loaded from safetensors, offline,
    checked against their schemas and against each other."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    dtype = dtype_of(precision)
    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    if not tasks or set(tasks) - set(TASKS):
        raise ConfigError(f"tasks: expected a non-empty subset of {TASKS}, got {tasks}")
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunNotFoundError(f"run folder not found: {run_dir}")
    found = [task for task in TASKS if task in tasks and (run_dir / task).exists()]
    if not found:
        raise CheckpointError(f"{run_dir}: no {' or '.join(t + '/' for t in tasks)} checkpoint found")
    loaded = {task: _load_task(run_dir / task, task, dtype, backend) for task in found}
    if len(loaded) == 2:
        diffs = loaded["ner"].info.schema.differences(loaded["re"].info.schema)
        if diffs:
            raise CheckpointError(f"{run_dir}: NER and RE checkpoints were trained on different schemas: "
                                  + "; ".join(diffs))
    segmenters = {segmenter_of(task.info) for task in loaded.values()}
    if len(segmenters) > 1:
        raise CheckpointError(f"{run_dir}: NER and RE checkpoints read text with different segmenters "
                              f"{sorted(segmenters)}")
    return loaded


def segmenter_of(info: CheckpointInfo) -> str:
    """How the checkpoint's training text became words; checkpoints from before it was recorded used the
    default."""
    return check_segmenter(info.extra.get("segmenter", DEFAULT_SEGMENTER))


def _load_task(path: Path, task: str, dtype: torch.dtype, backend: str) -> LoadedTask:
    info = read_checkpoint_info(path, task)
    if task == "re" and info.extra.get("encoding") != RE_ENCODING:
        raise CheckpointError(f"{path}: RE checkpoint encoding {info.extra.get('encoding')!r} (one encoder "
                              f"pass per pair, before all pairs were scored at once); this code reads "
                              f"{RE_ENCODING!r}: retrain the RE model")
    read_json(path / "config.json")  # a damaged one is named here, whichever backend reads it
    model = _load_model(path, task, dtype, backend)
    if task == "re":
        expected = info.schema.relation_labels
    else:
        expected = info.schema.span_labels if info.extra.get("ner_head") == "span" else info.schema.bio_tags
    _check_labels(path, model, expected)
    return LoadedTask(model, SavedTokenizer(path), info)


def _load_model(path: Path, task: str, dtype: torch.dtype, backend: str):
    """The model of one checkpoint folder, run by ``backend``."""
    if backend != "transformers":
        try:
            return lean_bert.load(path, dtype)
        except lean_bert.Unsupported as why:
            if backend == "lean":
                raise CheckpointError(f"backend='lean' cannot run this checkpoint: {why}") from None
            log.info("%s; loading it with transformers", why)
    with reading_weights(path / WEIGHTS_FILE):
        if task == "ner" and read_json(path / "config.json").get("architectures") == [SPAN_ARCHITECTURE]:
            from ie.models.span_ner import SpanNerModel

            return SpanNerModel.from_pretrained(path, use_safetensors=True)
        if task == "ner":
            from transformers import AutoModelForTokenClassification

            return AutoModelForTokenClassification.from_pretrained(path, use_safetensors=True)
        from ie.models.modeling import MarkerRelationModel

        return MarkerRelationModel.from_pretrained(path, use_safetensors=True)


def _check_labels(path: Path, model, expected: list[str]) -> None:
    actual = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if actual != expected:
        raise CheckpointError(f"{path}: model labels {actual} differ from the labels of its schema {expected}")


def schema_of(loaded: dict[str, LoadedTask]) -> Schema:
    return next(iter(loaded.values())).info.schema
