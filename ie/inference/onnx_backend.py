"""The ONNX Runtime backend: a run's export (``python -m ie.export``, :mod:`ie.inference.onnx_export`) run
without torch, so a serving install can leave torch out (README, "Serving without torch").

An export is ``RUN/onnx/``: ``manifest.json`` and, per task, the graph in fp32 (``model.onnx``) and
optionally quantised to int8 (``model.int8.onnx``, :mod:`ie.inference.onnx_quantize`), beside copies of the checkpoint's small
files (``ie.json``, schema, config, tokenizer), so the folder also works copied on its own. The manifest
names the source checkpoints with their SHA-256: an export older than its run's checkpoint is refused,
naming the command that rebuilds it. Tokenisation, windows, decoding and results are the Predictor's own;
only the encoder and heads run here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ie.errors import ConfigError
from ie.inference import run_checks
from ie.inference.run_checks import LoadedTask
from ie.inference.shared_head import load_head
from ie.models.checkpoint import WEIGHTS_FILE, CheckpointError, SavedTokenizer, read_json
from ie.precision import cpu_name
from ie.runs import EXPORT_MANIFEST, RunNotFoundError

EXPORT_DIR = "onnx"
MANIFEST = EXPORT_MANIFEST
FORMAT_VERSION = 1
GRAPHS = {"fp32": "model.onnx", "int8": "model.int8.onnx"}  # precision -> graph file of a task folder
# what a task folder of the export holds beside its graphs: all the Predictor reads of a checkpoint but weights
COPIED = ("ie.json", "schema.json", "config.json", "tokenizer.json", "tokenizer_config.json")
HIDDEN = "hidden"  # the NER graph's second output in a shared-encoder run: the last hidden states
SHARED_HEAD = "shared_head"  # the manifest's kind of such a run's relation head: no graph, its weights copied


class ExportError(CheckpointError):
    """A run's ONNX export is missing, incomplete or older than the checkpoint it was made from."""


def export_dir(run_dir: str | Path) -> Path:
    """Where the export of ``run_dir`` lives: ``run_dir/onnx``, or ``run_dir`` itself when it is an export
    copied on its own."""
    run_dir = Path(run_dir)
    return run_dir if (run_dir / MANIFEST).exists() else run_dir / EXPORT_DIR


def rebuild_command(run_dir: str | Path, precision: str = "fp32") -> str:
    return f"python -m ie.export run={run_dir}" + (" quantize=int8" if precision == "int8" else "")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(run_dir: str | Path) -> dict:
    folder = export_dir(run_dir)
    path = folder / MANIFEST
    if not path.exists():
        raise ExportError(f"{path}: no ONNX export of this run; build it with: {rebuild_command(run_dir)}")
    manifest = read_json(path)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ExportError(
            f"{path}: export format {manifest.get('format_version')}, this code reads "
            f"{FORMAT_VERSION}; rebuild it with: {rebuild_command(run_dir)}"
        )
    return manifest


def check_fresh(run_dir: Path, task: str, entry: dict) -> None:
    """The checkpoint the task was exported from has not changed since (where the run still holds it)."""
    source = run_dir / task / WEIGHTS_FILE
    if source.exists() and sha256(source) != entry["source_sha256"]:
        raise ExportError(
            f"{export_dir(run_dir) / MANIFEST}: the export of {task}/ is stale ({source} changed "
            f"since it was exported); rebuild it with: {rebuild_command(run_dir)}"
        )


class OnnxModel:
    """One exported graph on ONNX Runtime's CPU provider, called as the Predictor calls every backend:
    NumPy inputs in, float32 logits out."""

    backend = "onnx"

    def __init__(self, graph: Path, precision: str, threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # no arena: with token and pair counts changing every call, the arena keeps the largest blocks it
        # ever served (on the seeds, NER+RE int8 peaked 40 MiB higher with it, at the same speed)
        options.enable_cpu_mem_arena = False
        # no memory patterns either: ORT keeps one per input shape seen, and here shapes rarely repeat (NER+RE
        # int8 on 100 seed documents: peak 374 -> 338 MiB, and 70 MiB less held after the call)
        options.enable_mem_pattern = False
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidProtobuf for a damaged file
            raise ExportError(
                f"{graph}: cannot load the graph ({type(err).__name__}: {err}); rebuild the "
                f"export with: {rebuild_command(graph.parents[2], precision)}"
            ) from None
        config = read_json(graph.parent / "config.json")  # the checkpoint's, as a torch model's .config shows it
        config["id2label"] = {int(k): v for k, v in config["id2label"].items()}
        self.config = SimpleNamespace(**{**config, "num_labels": len(config["id2label"])})
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.precision = precision
        self.model = self  # what Predictor.ner_model / re_model show, as for the torch runners
        self.recorded: list[dict] | None = None  # a list: every call's inputs are kept (int8 calibration)
        # dynamic int8 scales activations over the whole call, so the Predictor gives it one window per call
        self.scales_per_call = False

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self._run(inputs)[0]

    @property
    def gives_hidden(self) -> bool:
        return HIDDEN in self.output_names

    def with_hidden(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Logits and last hidden states, from a shared-encoder run's NER graph."""
        logits, hidden = self._run(inputs)
        return logits, hidden

    def _run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        feed = {name: inputs[name] for name in self.input_names}
        if self.recorded is not None:
            self.recorded.append(feed)
        return self.session.run(None, feed)


def check_runs(model: OnnxModel, device: str, precision: str) -> OnnxModel:
    if device != "cpu":
        raise ConfigError(f"backend=onnx runs on ONNX Runtime's CPU provider: device must be cpu, got {device!r}")
    if precision != model.precision:
        raise ConfigError(f"this graph was loaded as {model.precision}, the Predictor asks for {precision}")
    return model


def load_run(run_dir: str | Path, tasks, precision: str, threads: int | None = None) -> dict[str, LoadedTask]:
    """The export of ``run_dir`` (those of ``tasks`` it holds), checked as the torch backends check a run."""
    if precision not in GRAPHS:
        raise ConfigError(f"backend=onnx runs precision {' or '.join(GRAPHS)}, got {precision!r}")
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunNotFoundError(f"run folder not found: {run_dir}")
    manifest = read_manifest(run_dir)
    folder, found = run_checks.tasks_found(export_dir(run_dir), tasks)
    # an int8 export without a method is from before static int8 existed: dynamic
    scales_per_call = precision == "int8" and (manifest.get("int8") or {}).get("method", "dynamic") == "dynamic"
    loaded = {}
    for task in found:
        entry = manifest["tasks"].get(task)
        if entry is not None and entry.get("kind") == SHARED_HEAD:  # runs in NumPy on the NER graph's hidden states
            check_fresh(run_dir, task, entry)
            info = run_checks.read_info(folder / task, task)
            loaded[task] = LoadedTask(load_head(folder / task), SavedTokenizer(folder / task), info)
            continue
        graph = folder / task / GRAPHS[precision]
        if entry is None or precision not in entry["graphs"] or not graph.exists():
            raise ExportError(f"{graph}: not exported; build it with: {rebuild_command(run_dir, precision)}")
        check_fresh(run_dir, task, entry)
        info = run_checks.read_info(folder / task, task, weights=False)
        model = OnnxModel(graph, precision, threads)
        model.scales_per_call = scales_per_call
        run_checks.check_labels(folder / task, [model.config.id2label[i] for i in range(model.config.num_labels)], info)
        loaded[task] = LoadedTask(model, SavedTokenizer(folder / task), info)
    run_checks.check_together(run_dir, loaded)
    return loaded


# --- backend=auto ------------------------------------------------------------------------------------


def torch_installed() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def auto_picks_onnx(run_dir: str | Path, precision: str) -> bool:
    """``backend=auto``: the export where only it can run (int8, or no torch installed), or where
    ``python -m ie.export`` measured it faster than torch at this precision on a CPU of this model (its
    manifest's ``timings``); else a torch backend."""
    if precision == "int8" or not torch_installed():
        return True
    path = export_dir(run_dir) / MANIFEST
    if not path.exists():
        return False
    try:
        timings = json.loads(path.read_text(encoding="utf-8")).get("timings") or {}
    except (OSError, json.JSONDecodeError):
        return False  # backend=onnx would name the damaged file; auto falls back to torch
    ms = timings.get("ms_per_doc", {})
    if timings.get("cpu") != cpu_name() or timings.get("threads") != threads():
        return False
    onnx, torch_ms = ms.get(f"onnx {precision}"), ms.get(f"torch {precision}")
    return onnx is not None and torch_ms is not None and onnx < torch_ms


def threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
