"""A run's checkpoints exported to ONNX for :mod:`ie.inference.onnx_backend` (``python -m ie.export``).

Each task's model (the transformers class it was trained as, fp32) goes through torch's exporter
(``torch.onnx.export``, dynamo) with batch, token and pair/span counts dynamic; ``quantize=int8`` adds an
int8 graph (:mod:`ie.inference.onnx_quantize`: dynamic, or static with ``calibration=train``). The graphs
are checked against torch on inputs of another shape than they were traced with, and the export is
written under a temporary name and renamed into place, so a failed export never leaves a half one.
``measure=true`` then times the Predictor on each backend and precision on this CPU and records it in
the manifest, which is what ``backend=auto`` reads.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from ie.atomic import write_text
from ie.errors import ConfigError
from ie.inference import loading, onnx_backend, onnx_fusion, onnx_quantize
from ie.inference.onnx_backend import (
    COPIED,
    EXPORT_DIR,
    FORMAT_VERSION,
    GRAPHS,
    HIDDEN,
    MANIFEST,
    SHARED_HEAD,
    ExportError,
)
from ie.models.checkpoint import WEIGHTS_FILE

log = logging.getLogger(__name__)

QUANTIZE = (None, "int8")
TOLERANCE = 1e-3  # max |logit difference| between the fp32 graph and torch fp32 on the check inputs
# What measure=true times each backend on: news of the project's kind, read as the Predictor reads a request.
SAMPLE = (
    "The Russian-Kazakh Interregional Cooperation Forum opened in Orenburg on 7 November 2024. "
    "Deputy Prime Minister Alexei Overchuk met the Akim of the Aktobe Region, Askhat Shakharov, and the "
    "two sides signed an agreement on cross-border trade. The Chamber of Commerce and Industry of the "
    "Kyrgyz Republic and the Government of Tatarstan agreed to open a joint trade house in Kazan."
)
_EXTRA_INPUTS = {"re": ("pair_rows", "head_spans", "tail_spans"), "span": ("span_rows", "span_bounds", "span_widths")}


class _Logits(torch.nn.Module):
    """A task model as one graph: named tensors in, logits (and with ``hidden`` the last hidden states) out."""

    def __init__(self, model: torch.nn.Module, hidden: bool = False):
        super().__init__()
        self.model, self.hidden = model, hidden

    def forward(
        self,
        input_ids,
        attention_mask,
        token_type_ids=None,
        pair_rows=None,
        head_spans=None,
        tail_spans=None,
        span_rows=None,
        span_bounds=None,
        span_widths=None,
    ):
        given = {
            "token_type_ids": token_type_ids,
            "pair_rows": pair_rows,
            "head_spans": head_spans,
            "tail_spans": tail_spans,
            "span_rows": span_rows,
            "span_bounds": span_bounds,
            "span_widths": span_widths,
        }
        if self.hidden:
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                output_hidden_states=True,
                **{k: v for k, v in given.items() if v is not None},
            )
            return out.logits, out.hidden_states[-1]
        return self.model(
            input_ids=input_ids, attention_mask=attention_mask, **{k: v for k, v in given.items() if v is not None}
        ).logits


def example_inputs(kind: str, config, batch: int, tokens: int, items: int, seed: int) -> dict[str, torch.Tensor]:
    """Random inputs of one shape for a ``kind`` (``token``, ``span``, ``re``) graph: what it is traced
    with, and (of another shape) what it is checked on."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, config.vocab_size, (batch, tokens), generator=gen)
    mask = torch.ones(batch, tokens, dtype=torch.long)
    mask[0, tokens - 3 :] = 0  # a padded row
    inputs = {"input_ids": ids, "attention_mask": mask}
    if getattr(config, "type_vocab_size", 1) > 2:  # word shapes ride on the token type ids
        inputs["token_type_ids"] = torch.randint(0, config.type_vocab_size, (batch, tokens), generator=gen)
    rows = torch.arange(items) % batch
    if kind == "re":
        head = torch.randint(1, tokens // 2 - 1, (items,), generator=gen)
        tail = torch.randint(tokens // 2, tokens - 4, (items,), generator=gen)
        inputs.update(
            pair_rows=rows, head_spans=torch.stack([head, head + 1], 1), tail_spans=torch.stack([tail, tail + 2], 1)
        )
    elif kind == "span":
        first = torch.randint(1, tokens - 5, (items,), generator=gen)
        width = torch.randint(1, min(4, config.max_span_words) + 1, (items,), generator=gen)
        inputs.update(span_rows=rows, span_bounds=torch.stack([first, first + width - 1], 1), span_widths=width)
    return inputs


def _kind(task: str, info) -> str:
    return "re" if task == "re" else info.extra.get("ner_head", "token")


def _dynamic_shapes(inputs: dict) -> dict:
    batch, tokens, items = torch.export.Dim("batch"), torch.export.Dim("tokens"), torch.export.Dim("items")
    shapes = {}
    for name in inputs:
        if name in ("input_ids", "attention_mask", "token_type_ids"):
            shapes[name] = {0: batch, 1: tokens}
        else:
            shapes[name] = {0: items}
    return shapes


def export_graph(model: torch.nn.Module, kind: str, path: Path, opset: int | None, hidden: bool = False) -> None:
    """``hidden``: a second output, the last hidden states, for a shared-encoder relation head."""
    inputs = example_inputs(kind, model.config, batch=2, tokens=24, items=5, seed=0)
    options = {} if opset is None else {"opset_version": opset}
    with torch.no_grad(), warnings.catch_warnings():
        # several inputs share the batch, token and item axes; the exporter says so once per input
        warnings.filterwarnings("ignore", message="# The axis name")
        torch.onnx.export(
            _Logits(model, hidden).eval(),
            (),
            str(path),
            kwargs=inputs,
            input_names=list(inputs),
            output_names=["logits", HIDDEN][: 1 + hidden],
            dynamic_shapes=_dynamic_shapes(inputs),
            dynamo=True,
            external_data=False,
            optimize=True,
            verbose=False,
            **options,
        )


def check_graph(model: torch.nn.Module, kind: str, graph: Path, precision: str) -> float:
    """Max |logit difference| of the graph against the torch model, on inputs of other shapes than the
    traced ones (dynamic axes really dynamic)."""
    session = onnx_backend.OnnxModel(graph, precision)
    worst = 0.0
    for batch, tokens, items, seed in ((1, 11, 1, 1), (3, 40, 7, 2)):
        inputs = example_inputs(kind, model.config, batch, tokens, items, seed)
        with torch.no_grad():
            expected = model(**inputs).logits.float().numpy()
        got = session({k: v.numpy() for k, v in inputs.items()})
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def export_run(
    run_dir: str | Path,
    quantize: str | None = None,
    opset: int | None = None,
    measure: bool = True,
    calibration: str | None = None,
    calibration_sentences: int = 256,
    fuse: bool = True,
) -> dict:
    """Write ``run_dir/onnx/`` (replacing an older export) and return its manifest. ``fuse``: the fp32 graphs
    (and the int8 ones made from them) with ONNX Runtime's fused transformer ops (:mod:`ie.inference.onnx_fusion`)."""
    if quantize not in QUANTIZE:
        raise ConfigError(f"quantize must be null or int8, got {quantize!r}")
    run_dir = Path(run_dir)
    loaded = loading.load_run(run_dir, ("ner", "re"), "fp32", "transformers")
    # a shared-encoder run (model.shared_encoder=joint or frozen): its NER graph also gives the hidden states, and its
    # relation head is copied as it is, to run in NumPy (ie/inference/shared_head.py)
    shared = "re" in loaded and getattr(loaded["re"].model, "shares_encoder", False)
    graphs = {task: entry for task, entry in loaded.items() if not (shared and task == "re")}
    sentences, calibrated = (
        onnx_quantize.calibration_sentences(run_dir, calibration, calibration_sentences)
        if quantize and calibration
        else (None, None)
    )  # checked before the slow export
    dest = run_dir / EXPORT_DIR
    tmp = run_dir / f".{EXPORT_DIR}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "onnxruntime": _version("onnxruntime"),
        "opset": opset,
        "int8": None,
        "tasks": {},
    }
    try:
        for task, entry in graphs.items():
            manifest["tasks"][task] = _export_task(run_dir, task, entry, tmp / task, opset, fuse, hidden=shared)
        if shared:
            manifest["tasks"]["re"] = _copy_shared_head(run_dir, tmp / "re")
        write_text(tmp / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        if quantize:
            manifest["int8"] = _quantize_tasks(graphs, manifest, tmp, sentences, calibrated)
            write_text(tmp / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        _replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if measure:
        manifest["timings"] = measure_backends(run_dir, ["fp32", *filter(None, [quantize])])
        write_text(dest / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def _quantize_tasks(
    loaded: dict, manifest: dict, folder: Path, sentences: list | None, calibrated: dict | None
) -> dict:
    """The int8 graph of each task in ``folder`` (an export with its fp32 graphs and manifest written)."""
    feeds = onnx_quantize.calibration_feeds(folder, sentences) if sentences is not None else {}
    for task, entry in loaded.items():
        source, target = folder / task / GRAPHS["fp32"], folder / task / GRAPHS["int8"]
        log.info("%s: quantising to int8 (%s)", task, "static" if calibrated else "dynamic")
        onnx_quantize.quantize(source, target, feeds.get(task, []) if calibrated else None)
        manifest["tasks"][task]["graphs"]["int8"] = _graph_entry(
            target, check_graph(entry.model, manifest["tasks"][task]["kind"], target, "int8")
        )
    if calibrated:
        return {"method": "static", **onnx_quantize.STATIC_OPTIONS, "calibration": calibrated}
    return {"method": "dynamic", **onnx_quantize.DYNAMIC_OPTIONS}


def _copy_shared_head(run_dir: Path, folder: Path) -> dict:
    """A shared-encoder relation head in the export: its checkpoint's files, weights included (a few KB)."""
    folder.mkdir(parents=True)
    for name in (*COPIED, WEIGHTS_FILE):
        if (run_dir / "re" / name).exists():
            shutil.copy2(run_dir / "re" / name, folder / name)
    return {
        "kind": SHARED_HEAD,
        "source": f"re/{WEIGHTS_FILE}",
        "source_sha256": onnx_backend.sha256(run_dir / "re" / WEIGHTS_FILE),
        "graphs": {},
    }


def _export_task(
    run_dir: Path, task: str, entry, folder: Path, opset: int | None, fuse: bool, hidden: bool = False
) -> dict:
    kind = _kind(task, entry.info)
    folder.mkdir(parents=True)
    for name in COPIED:
        if (run_dir / task / name).exists():
            shutil.copy2(run_dir / task / name, folder / name)
    log.info("%s: exporting the %s graph%s", task, kind, " with its hidden states" if hidden else "")
    export_graph(entry.model, kind, folder / GRAPHS["fp32"], opset, hidden)
    fused_ops = onnx_fusion.fuse(folder / GRAPHS["fp32"]) if fuse else None
    difference = check_graph(entry.model, kind, folder / GRAPHS["fp32"], "fp32")
    if difference > TOLERANCE:
        raise ExportError(
            f"{folder / GRAPHS['fp32']}: the exported {task} graph differs from torch by "
            f"{difference:.2g} in a logit (tolerance {TOLERANCE})"
        )
    graphs = {"fp32": {**_graph_entry(folder / GRAPHS["fp32"], difference), "fused_ops": fused_ops}}
    return {
        "kind": kind,
        "source": f"{task}/{WEIGHTS_FILE}",
        "source_sha256": onnx_backend.sha256(run_dir / task / WEIGHTS_FILE),
        "inputs": list(example_inputs(kind, entry.model.config, 2, 24, 5, 0)),
        "graphs": graphs,
    }


def _graph_entry(graph: Path, max_abs_logit_diff: float) -> dict:
    """A graph as the manifest names it: the hash and size that the backend checks before loading it."""
    return {
        "file": graph.name,
        "max_abs_logit_diff": max_abs_logit_diff,
        "sha256": onnx_backend.sha256(graph),
        "bytes": graph.stat().st_size,
    }


def _replace(tmp: Path, dest: Path) -> None:
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def measure_backends(run_dir: Path, onnx_precisions: list[str], docs: int = 8, repeats: int = 5) -> dict:
    """Median milliseconds per document of ``Predictor.predict`` on :data:`SAMPLE` for torch fp32 and bf16
    (the torch backend ``auto`` would otherwise load) and the exported precisions, on this CPU."""
    from ie.inference.predictor import Predictor

    options = [("torch", "fp32"), ("torch", "bf16")] + [("onnx", p) for p in onnx_precisions]
    texts = [SAMPLE] * docs
    ms = {}
    for backend, precision in options:
        # torch: "auto", which takes a torch backend here, as the manifest holds no timings yet
        predictor = Predictor.from_pretrained(
            run_dir, precision=precision, backend="onnx" if backend == "onnx" else "auto"
        )
        predictor.predict(texts)  # warm-up: kernels for these shapes
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            predictor.predict(texts)
            seconds.append(time.perf_counter() - start)
        ms[f"{backend} {precision}"] = round(1000 * statistics.median(seconds) / docs, 3)
        log.info("%s %s: %.1f ms per document", backend, precision, ms[f"{backend} {precision}"])
    return {
        "cpu": onnx_backend.cpu_name(),
        "threads": onnx_backend.threads(),
        "docs": docs,
        "repeats": repeats,
        "ms_per_doc": ms,
    }
