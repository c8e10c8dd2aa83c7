"""A run's checkpoints loaded for inference: which backend runs each model, in which precision, and
every check that a run's two checkpoints fit each other and their schema.

Torch backends: ``lean`` runs BERT-family checkpoints on :mod:`ie.models.lean_bert` (less memory, faster
loading), ``transformers`` on the transformers classes they were trained with, ``auto`` the lean one
wherever it supports the checkpoint (``onnx`` is :mod:`ie.inference.onnx_backend`). Precision ``bf16``: matmuls, attention and GELU in bf16,
residual stream and LayerNorms in fp32 (autocast's recipe). The lean backend stores its matmul and
embedding weights in bf16 (half the memory, no per-call casts); transformers models keep fp32 weights
with their embedding tables rounded to bf16 values, and run under autocast: the same arithmetic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from ie.errors import ConfigError
from ie.inference import run_checks
from ie.inference.run_checks import LoadedTask
from ie.inference.shared_head import is_shared_head, load_head
from ie.models import lean_bert
from ie.models.checkpoint import WEIGHTS_FILE, CheckpointError, SavedTokenizer, read_json, reading_weights
from ie.models.span_representation import ARCHITECTURE as SPAN_ARCHITECTURE

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}
TORCH_BACKENDS = ("auto", "lean", "transformers")  # the torch side of run_checks.BACKENDS
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


class TorchRunner:
    """A torch model as the Predictor calls every backend: NumPy inputs in, float32 logits out."""

    def __init__(self, model: torch.nn.Module, device: str, precision: str):
        set_precision(model, precision)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.backend = backend_of(model)
        # bf16 autocast around a transformers model; lean models carry their precision themselves
        self.autocast = precision == "bf16" and self.backend != "lean"

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self._forward(inputs).logits.float().cpu().numpy()

    gives_hidden = True  # what a shared-encoder relation head reads (with_hidden)

    def with_hidden(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Logits and the last hidden states (``[batch, length, hidden]``, float32) of a token classifier:
        what a shared-encoder relation head reads (:mod:`ie.inference.shared_head`)."""
        lean = self.backend == "lean"
        out = self._forward(inputs, **({"with_hidden": True} if lean else {"output_hidden_states": True}))
        hidden = out.hidden if lean else out.hidden_states[-1]
        return out.logits.float().cpu().numpy(), hidden.float().cpu().numpy()

    def _forward(self, inputs: dict[str, np.ndarray], **options):
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.autocast else nullcontext()
        with torch.inference_mode(), autocast:
            return self.model(**{k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()}, **options)


def load_run(
    run_dir: str | Path, tasks: Sequence[str], precision: str, backend: str, threads: int | None = None
) -> dict[str, LoadedTask]:
    """``run_dir/ner`` and ``run_dir/re`` (those of ``tasks`` that exist), loaded from safetensors, offline,
    checked against their schemas and against each other. ``threads``: the process's intra-op threads."""
    if backend not in TORCH_BACKENDS:
        raise ConfigError(f"backend must be one of {list(TORCH_BACKENDS)}, got {backend!r}")
    dtype = dtype_of(precision)
    if threads is not None:
        torch.set_num_threads(threads)
    run_dir, found = run_checks.tasks_found(run_dir, tasks)
    loaded = {task: _load_task(run_dir / task, task, dtype, backend) for task in found}
    run_checks.check_together(run_dir, loaded)
    return loaded


def _load_task(path: Path, task: str, dtype: torch.dtype, backend: str) -> LoadedTask:
    info = run_checks.read_info(path, task)
    model = load_model(path, task, dtype, backend)
    run_checks.check_labels(path, [model.config.id2label[i] for i in range(model.config.num_labels)], info)
    return LoadedTask(model, SavedTokenizer(path), info)


def load_model(path: Path, task: str, dtype: torch.dtype, backend: str):
    """The model of one checkpoint folder, run by ``backend`` (a shared-encoder relation head runs on the NER
    model's hidden states, whatever runs that). Training reads a finished checkpoint (a teacher, the NER model a
    frozen head trains on) with ``backend="transformers"``: a trainable module of the checkpoint's own class."""
    if task == "re" and is_shared_head(path):
        return load_head(path)
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
