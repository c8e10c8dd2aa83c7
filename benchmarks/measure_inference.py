"""Inference measurements, run in a worker process per configuration: throughput, latency, useful
FLOPs and padding of our Predictor or of ``transformers.pipeline``; the machine's matmul peak; and the
test-set F1 of each precision and backend. torch is imported only where a configuration uses it, so an
ONNX Runtime worker's peak memory is that of a torch-free serving process."""

from __future__ import annotations

import os
import time
from functools import partial
from itertools import cycle, islice
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_PRECISIONS = {"fp32": "fp32", "bf16_autocast": "bf16", "bf16_weights": "bf16"}
# our engines -> the Predictor backend each runs: "ours" is torch's default (lean where it can), "ours-hf" the
# same Predictor on the transformers model classes, to show what the lean encoder buys, "ours-onnx" the run's
# ONNX export (python -m ie.export) on ONNX Runtime, "ours-student" and "ours-shared" the default Predictor of
# speed.py's --student-run and --shared-run on torch, and with "-onnx" on their export
BACKENDS = {
    "ours": "lean_or_transformers",
    "ours-hf": "transformers",
    "ours-onnx": "onnx",
    "ours-student": "lean_or_transformers",
    "ours-shared": "lean_or_transformers",
    "ours-student-onnx": "onnx",
    "ours-shared-onnx": "onnx",
}
F1_METRICS = {
    "NER (strict)": ("ner", "strict"),
    "NER (default)": ("ner", "default"),
    "RE gold entities": ("re", "gold_entities", "strict"),
    "RE end to end": ("re", "end_to_end", "strict"),
}
F1_OPTIONS = [("fp32", "transformers"), ("fp32", "lean"), ("bf16", "transformers"), ("bf16", "lean")]
ONNX_F1_OPTIONS = [("fp32", "onnx"), ("int8", "onnx")]  # where the run has its export (with quantize=int8)


# --- inputs and the machine --------------------------------------------------------------------


def seed_documents(n: int) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    return list(islice(cycle(texts), n))


def conll04_documents(split: str = "test") -> list[str]:
    from ie.data.formats.conll04 import default_folder
    from ie.data.formats.conll04 import read_records as read_conll04_records
    from ie.data.schema import Schema

    schema = Schema.load(ROOT / "data" / "conll04" / "schema.json")  # the files are read in place (IE_CONLL04_DIR)
    return [" ".join(r.words) for r in read_conll04_records(default_folder(), schema)[split]]


def words(texts) -> int:
    return sum(len(t.split()) for t in texts)


# side of the bf16 product where bf16 is emulated: at 2048 one product took ~25 s on an AVX2 EPYC (the peak's
# 2 x 6 of them kept speed.py busy for minutes after its last row); this one takes ~0.05 s
EMULATED_BF16_SIZE = 256


def machine_peak(size: int = 2048, repeats: int = 5) -> dict:
    """Best-of-``repeats`` square matmul throughput, fp32 and bf16, the 1-minute load average, and whether
    bf16 is native here (what ``precision=auto`` then runs: :mod:`ie.precision`)."""
    import torch

    from ie.precision import bf16_native, cpu_name

    native, why = bf16_native("cpu")
    out = {
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "matmul_size": size,
        "load_average": os.getloadavg()[0],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "bf16_native": native,
        "bf16_reason": why,
        "precision_auto": "bf16" if native else "fp32",
        "bf16_matmul_size": size if native else EMULATED_BF16_SIZE,
    }
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        n = out["bf16_matmul_size"] if name == "bf16" else size
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.mm(a, b)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - t)
        out[f"{name}_gflops"] = 2 * n**3 / min(times) / 1e9
    return out


# --- FLOPs of the encoder forward passes -------------------------------------------------------


def encoder_flops(seq: int, hidden: int, intermediate: int, layers: int) -> int:
    """Linear layers (Q, K, V, output: 4H^2; feed-forward: 2HI) and attention (QK^T and AV: 2T^2H),
    two FLOPs per multiply-add, for one sequence of ``seq`` real tokens."""
    return layers * (2 * seq * (4 * hidden**2 + 2 * hidden * intermediate) + 4 * seq**2 * hidden)


class FlopCounter:
    """Records the ``input_ids`` and ``attention_mask`` of every forward call of the given models (a
    pre-hook on the model): the useful encoder FLOPs (real tokens only: padding is work, not output, and
    our lean encoder skips most of it) and the tokens fed, padding included."""

    def __init__(self, models):
        self.flops = self.tokens = self.real_tokens = self.calls = 0
        for model in models:
            c = model.config
            dims = (c.hidden_size, c.intermediate_size, c.num_hidden_layers)
            if hasattr(model, "session"):  # an ONNX Runtime graph: counted where its session runs
                model.session.run = self._counting(model.session.run, dims)
                continue
            model.register_forward_pre_hook(
                lambda _m, args, kwargs, dims=dims: self._record(args, kwargs, dims), with_kwargs=True
            )

    def _counting(self, run, dims):
        def counted(outputs, feeds, *rest):
            self._record((), feeds, dims)
            return run(outputs, feeds, *rest)

        return counted

    def _record(self, args, kwargs, dims):
        ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        mask = kwargs.get("attention_mask")
        lengths = [ids.shape[-1]] * ids.shape[0] if mask is None else mask.sum(-1).tolist()
        self.flops += sum(encoder_flops(n, *dims) for n in lengths)
        self.tokens += int(np.prod(ids.shape))
        self.real_tokens += sum(lengths)
        self.calls += 1

    def reset(self):
        self.flops = self.tokens = self.real_tokens = self.calls = 0


class _Blocked:
    """A meta path finder that refuses torch and transformers."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ModuleNotFoundError(f"No module named {name!r} (this worker measures a torch-free install)")
        return None


def without_torch() -> None:
    """Make this process what the torch-free install (``pip install -e ".[serve]"``) is: no torch, no
    transformers. spaCy's thinc imports torch whenever it can; here it finds none, as it would there."""
    import sys

    if any(m.split(".")[0] in ("torch", "transformers") for m in sys.modules):
        raise RuntimeError("without_torch(): torch is imported already")
    sys.meta_path.insert(0, _Blocked())


# --- one configuration ---------------------------------------------------------------------------


def load_engine(spec: dict):
    """``(predict(texts, batch_size) -> [[(label, start, end), ...] per text], models)``."""
    run = Path(spec["run"])
    if spec["engine"] in BACKENDS:
        from ie.inference.predictor import Predictor

        load = partial(Predictor.from_pretrained, run, precision=spec["precision"], tasks=tuple(spec["tasks"]))
        if BACKENDS[spec["engine"]] == "lean_or_transformers":  # torch's auto; never the export (ours-onnx)
            from ie.models.checkpoint import CheckpointError

            try:
                predictor = load(backend="lean")
            except CheckpointError:  # a checkpoint the lean encoder cannot run
                predictor = load(backend="transformers")
        else:
            predictor = load(backend=BACKENDS[spec["engine"]])
        # encoders only: a shared-encoder relation head runs on the NER pass's states, no encoder of its own
        models = [
            m
            for m in (predictor.ner_model, predictor.re_model)
            if m is not None and not getattr(m, "shares_encoder", False)
        ]

        def predict(texts, batch_size):
            return [[(e.label, e.start, e.end) for e in p.entities] for p in predictor.predict(texts, batch_size)]

        return predict, models
    from contextlib import nullcontext

    import torch
    from transformers import pipeline

    from ie.models.checkpoint import read_checkpoint_info

    stride = read_checkpoint_info(run / "ner", "ner").stride
    dtype = torch.bfloat16 if spec["precision"] == "bf16_weights" else torch.float32
    pipe = pipeline(
        "token-classification",
        model=str(run / "ner"),
        tokenizer=str(run / "ner"),
        device="cpu",
        dtype=dtype,
        aggregation_strategy="simple",
        stride=stride,
    )
    autocast = spec["precision"] == "bf16_autocast"

    def predict(texts, batch_size):
        with torch.autocast("cpu", dtype=torch.bfloat16) if autocast else nullcontext():
            found = pipe(list(texts), batch_size=batch_size)
        return [
            [normalise(text, e["entity_group"], e["start"], e["end"]) for e in ents] for text, ents in zip(texts, found)
        ]

    predict.window, predict.stride = pipe.tokenizer.model_max_length, stride
    return predict, [pipe.model]


def normalise(text: str, label: str, start: int, end: int) -> tuple[str, int, int]:
    """A pipeline span without the whitespace it may include at either edge."""
    span = text[start:end]
    return label, start + len(span) - len(span.lstrip()), end - len(span) + len(span.rstrip())


def measure_inference(spec: dict) -> dict:
    predict, models = load_engine(spec)
    texts, batch = spec["texts"], spec["batch_size"]
    counter = FlopCounter(models)
    predict(texts[: max(batch, spec["unique"])], batch)  # warm-up: allocations, kernels for the shapes seen
    counter.reset()
    seconds = []
    for _ in range(spec["repeats"]):
        t = time.perf_counter()
        found = predict(texts, batch)
        seconds.append(time.perf_counter() - t)
    median = sorted(seconds)[len(seconds) // 2]
    out = {
        "seconds": seconds,
        "docs_per_s": len(texts) / median,
        "words_per_s": words(texts) / median,
        "gflops_per_s": counter.flops / sum(seconds) / 1e9,
        "tokens_fed": counter.tokens // len(seconds),
        "padding_share": 1 - counter.real_tokens / max(counter.tokens, 1),
        "forward_calls": counter.calls // len(seconds),
        "entities": found[: spec["unique"]],
    }
    if hasattr(predict, "window"):
        out["window"], out["stride"] = predict.window, predict.stride
    if spec.get("latency_calls"):
        short = texts[: spec["latency_calls"]]
        for text in short:  # warm-up at batch size 1
            predict([text], 1)
        lat = []
        for text in islice(cycle(short), spec["latency_calls"]):
            t = time.perf_counter()
            predict([text], 1)
            lat.append(1000 * (time.perf_counter() - t))
        lat.sort()
        out["latency_ms"] = {
            "p50": lat[len(lat) // 2],
            "p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))],
            "calls": len(lat),
        }
    return out


# --- F1 of each speed option --------------------------------------------------------------------


def f1_changes(runs: dict[str, str], bf16: bool = True) -> list[dict]:
    """Test-split micro F1 (``evaluate_run``, the scorer of evaluate.py) of every precision and backend,
    and its change in points from fp32 on the transformers classes, the reference."""
    from ie.evaluation.scoring import evaluate_run

    rows = []
    for corpus, run in runs.items():
        reference = None
        options = [o for o in F1_OPTIONS if bf16 or o[0] != "bf16"]
        options += ONNX_F1_OPTIONS if (Path(run) / "onnx" / "manifest.json").exists() else []
        for precision, backend in tqdm(options, desc=f"F1 {corpus}", unit="option"):
            result = evaluate_run(run, precision=precision, backend=backend, write=False)
            f1 = {}
            for name, path in F1_METRICS.items():
                node = result
                for key in path:
                    node = node.get(key, {}) if isinstance(node, dict) else {}
                if node:
                    f1[name] = 100 * node["micro"]["f1"]
            reference = reference or f1
            rows.append(
                {
                    "corpus": corpus,
                    "run": str(run),
                    "precision": precision,
                    "backend": backend,
                    "f1": f1,
                    "change": {k: v - reference[k] for k, v in f1.items()},
                }
            )
    return rows
