"""Speed of our Predictor and training against the plain Hugging Face way, in one run (issue 6).

    python benchmarks/speed.py --run RUN [--conll04-run RUN2] [--batch-size 32] [--docs 100]
        [--json docs/benchmarks.json] [--markdown docs/benchmarks.md] [--skip-training]

Every configuration runs in a fresh process of this script (``--worker``), so its peak resident
memory is its own. Inputs: the seed articles repeated to ``--docs`` documents, and the 288 CoNLL04
test sentences as short documents (text = tokens joined by single spaces, as ``ie.conll04`` reads
them). Words are whitespace-split words. Times include sentence splitting, tokenisation, batching
and aggregation. The baseline is ``transformers.pipeline("token-classification",
aggregation_strategy="simple")`` over the same NER checkpoint, reading long documents in windows of
the tokenizer's ``model_max_length`` with ``stride=`` the checkpoint's stride.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

import torch
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: this checkout's ie/, not an installed one
    sys.path.insert(0, str(ROOT))

PIPELINE_PRECISIONS = {"fp32": "fp32", "bf16_autocast": "bf16", "bf16_weights": "bf16"}
# our engines -> the Predictor backend each runs: "ours" is the default (lean where it can), "ours-hf" the
# same Predictor on the transformers model classes, to show what the lean encoder buys
BACKENDS = {"ours": "auto", "ours-hf": "transformers"}


# --- inputs and the machine --------------------------------------------------------------------

def seed_documents(n: int) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    return list(islice(cycle(texts), n))


def conll04_documents(split: str = "test") -> list[str]:
    from ie.conll04 import read_conll04_records
    from ie.schema import Schema

    folder = ROOT / "data" / "conll04"
    return [" ".join(r.words) for r in read_conll04_records(folder, Schema.load(folder / "schema.json"))[split]]


def words(texts) -> int:
    return sum(len(t.split()) for t in texts)


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine_peak(size: int = 2048, repeats: int = 5) -> dict:
    """Best-of-``repeats`` square matmul throughput, fp32 and bf16, and the 1-minute load average."""
    out = {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__, "matmul_size": size,
           "load_average": os.getloadavg()[0]}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        torch.mm(a, b)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            torch.mm(a, b)
            times.append(time.perf_counter() - t)
        out[f"{name}_gflops"] = 2 * size ** 3 / min(times) / 1e9
    return out


# --- FLOPs of the encoder forward passes -------------------------------------------------------

def encoder_flops(seq: int, hidden: int, intermediate: int, layers: int) -> int:
    """Linear layers (Q, K, V, output: 4H^2; feed-forward: 2HI) and attention (QK^T and AV: 2T^2H),
    two FLOPs per multiply-add, for one sequence of ``seq`` real tokens."""
    return layers * (2 * seq * (4 * hidden ** 2 + 2 * hidden * intermediate) + 4 * seq ** 2 * hidden)


class FlopCounter:
    """Records the ``input_ids`` and ``attention_mask`` of every forward call of the given models (a
    pre-hook on the model): the useful encoder FLOPs (real tokens only: padding is work, not output, and
    our lean encoder skips most of it) and the tokens fed, padding included."""

    def __init__(self, models):
        self.flops = self.tokens = self.real_tokens = self.calls = 0
        for model in models:
            c = model.config
            dims = (c.hidden_size, c.intermediate_size, c.num_hidden_layers)
            model.register_forward_pre_hook(lambda _m, args, kwargs, dims=dims: self._record(args, kwargs, dims),
                                            with_kwargs=True)

    def _record(self, args, kwargs, dims):
        ids = kwargs["input_ids"] if "input_ids" in kwargs else args[0]
        mask = kwargs.get("attention_mask")
        lengths = (torch.ones_like(ids) if mask is None else mask).sum(-1).tolist()
        self.flops += sum(encoder_flops(n, *dims) for n in lengths)
        self.tokens += ids.numel()
        self.real_tokens += sum(lengths)
        self.calls += 1

    def reset(self):
        self.flops = self.tokens = self.real_tokens = self.calls = 0


# --- inference (worker side) -------------------------------------------------------------------

def load_engine(spec: dict):
    """``(predict(texts, batch_size) -> [[(label, start, end), ...] per text], models)``."""
    run = Path(spec["run"])
    if spec["engine"] in BACKENDS:
        from ie.predictor import Predictor

        predictor = Predictor.from_pretrained(run, precision=spec["precision"], tasks=tuple(spec["tasks"]),
                                              backend=BACKENDS[spec["engine"]])
        models = [m for m in vars(predictor).values() if isinstance(m, torch.nn.Module)]

        def predict(texts, batch_size):
            return [[(e.label, e.start, e.end) for e in p.entities] for p in predictor.predict(texts, batch_size)]
        return predict, models
    from contextlib import nullcontext

    from transformers import pipeline

    from ie.checkpoint import read_checkpoint_info

    stride = read_checkpoint_info(run / "ner", "ner").stride
    dtype = torch.bfloat16 if spec["precision"] == "bf16_weights" else torch.float32
    pipe = pipeline("token-classification", model=str(run / "ner"), tokenizer=str(run / "ner"), device="cpu",
                    dtype=dtype, aggregation_strategy="simple", stride=stride)
    autocast = spec["precision"] == "bf16_autocast"

    def predict(texts, batch_size):
        with torch.autocast("cpu", dtype=torch.bfloat16) if autocast else nullcontext():
            found = pipe(list(texts), batch_size=batch_size)
        return [[normalise(text, e["entity_group"], e["start"], e["end"]) for e in ents]
                for text, ents in zip(texts, found)]
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
    predict(texts[:max(batch, spec["unique"])], batch)  # warm-up: allocations, kernels for the shapes seen
    counter.reset()
    seconds = []
    for _ in range(spec["repeats"]):
        t = time.perf_counter()
        found = predict(texts, batch)
        seconds.append(time.perf_counter() - t)
    median = sorted(seconds)[len(seconds) // 2]
    out = {"seconds": seconds, "docs_per_s": len(texts) / median, "words_per_s": words(texts) / median,
           "gflops_per_s": counter.flops / sum(seconds) / 1e9,
           "tokens_fed": counter.tokens // len(seconds),
           "padding_share": 1 - counter.real_tokens / max(counter.tokens, 1),
           "forward_calls": counter.calls // len(seconds), "entities": found[:spec["unique"]],
           "threads": torch.get_num_threads()}
    if hasattr(predict, "window"):
        out["window"], out["stride"] = predict.window, predict.stride
    if spec.get("latency_calls"):
        short = texts[:spec["latency_calls"]]
        for text in short:  # warm-up at batch size 1
            predict([text], 1)
        lat = []
        for text in islice(cycle(short), spec["latency_calls"]):
            t = time.perf_counter()
            predict([text], 1)
            lat.append(1000 * (time.perf_counter() - t))
        lat.sort()
        out["latency_ms"] = {"p50": lat[len(lat) // 2], "p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))],
                             "calls": len(lat)}
    return out


# --- training (worker side) --------------------------------------------------------------------

def compose_train(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from ie.config import register

    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=overrides)


def step_timer():
    """A Trainer callback timing the optimizer steps after the first few (model load, data
    preparation, the first steps' allocations and the final save are left out). Checkpoint writes
    inside the window (ours saves one per epoch for ``resume``; run_ner saves every 500 steps) are
    timed apart, in ``save_seconds``, so both sides are compared on training steps alone."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        skip, start, end, steps, rows, save_seconds, last_step_end = 0, None, None, 0, None, 0.0, None

        def on_train_begin(self, args, state, control, train_dataloader=None, **kw):
            self.skip = max(1, state.max_steps // 10)
            self.rows = len(train_dataloader.dataset) if train_dataloader is not None else None

        def on_step_end(self, args, state, control, **kw):
            self.last_step_end = time.perf_counter()
            if state.global_step == self.skip:
                self.start = self.last_step_end
            elif state.global_step > self.skip:
                self.end, self.steps = self.last_step_end, state.global_step - self.skip

        def on_save(self, args, state, control, **kw):
            if self.start is not None and self.skip < state.global_step < state.max_steps:
                self.save_seconds += time.perf_counter() - self.last_step_end

        def seconds(self) -> float | None:
            return self.end - self.start - self.save_seconds if self.start and self.end else None

    return StepTimer()


def re_examples(records, schema):
    """Candidate pairs of each sentence as one marked copy of it (typed punctuation markers,
    ``@ * PER * Denis Manturov @``), with the label id; the plain baseline's RE input."""
    from ie.dataset import candidate_pairs
    from ie.schema import NO_RELATION

    texts, labels, sentences = [], [], 0
    for r in records:
        pairs = candidate_pairs(r.entities, schema)
        sentences += bool(pairs)
        gold = {(h, t): label for h, t, label in r.relations}
        for h, t in pairs:
            (hs, he, hl), (ts, te, tl) = r.entities[h], r.entities[t]
            marked = []
            for w, word in enumerate(r.words):
                marked += [f"@ * {hl} *"] * (w == hs) + [f"# ^ {tl} ^"] * (w == ts) + [word]
                marked += ["@"] * (w == he - 1) + ["#"] * (w == te - 1)
            texts.append(" ".join(marked))
            labels.append(schema.relation_labels.index(gold.get((h, t), NO_RELATION)))
    return texts, labels, sentences


def train_records(cfg):
    from ie.dataset import load_corpus
    from ie.schema import Schema

    schema = Schema.load(cfg.data.schema)
    records, splits = load_corpus(cfg.data, schema)
    return schema, [r for d in splits["train"] for r in records[d]]


def train_plain(spec: dict, cfg, timer) -> float:
    """run_ner / run_classification style: AutoModelFor*, default random sampler, no evaluation, no
    saving; returns the Trainer's own samples/s."""
    from datasets import Dataset
    from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification,
                              AutoTokenizer, DataCollatorForTokenClassification, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    schema, train = train_records(cfg)
    tok = AutoTokenizer.from_pretrained(cfg.model.name_or_path)
    if spec["task"] == "ner":
        labels, auto = schema.bio_tags, AutoModelForTokenClassification
        collator = DataCollatorForTokenClassification(tok)
        enc = tok([r.words for r in train], is_split_into_words=True, truncation=True)
        data = {**enc, "labels": []}
        for i, r in enumerate(train):  # the word's label on its first subword, -100 elsewhere
            tags, wids = r.bio_tags(), enc.word_ids(i)
            data["labels"].append([-100 if w is None or w == prev else labels.index(tags[w])
                                   for w, prev in zip(wids, [None] + wids[:-1])])
    else:
        labels, auto = schema.relation_labels, AutoModelForSequenceClassification
        collator = DataCollatorWithPadding(tok)
        texts, ids, _ = re_examples(train, schema)
        data = {**tok(texts, truncation=True), "labels": ids}
    config = AutoConfig.from_pretrained(cfg.model.name_or_path, num_labels=len(labels),
                                        id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)})
    for key, value in (cfg.model.config_overrides or {}).items():
        setattr(config, key, value)
    model = (auto.from_config(config) if cfg.model.from_scratch
             else auto.from_pretrained(cfg.model.name_or_path, config=config))
    args = TrainingArguments(output_dir=spec["tmp"], max_steps=spec["steps"],
                             per_device_train_batch_size=spec["batch_size"],
                             bf16=spec["precision"] == "bf16", use_cpu=True, save_strategy="no", report_to=[],
                             disable_tqdm=True, seed=42, logging_steps=10)
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict(data), data_collator=collator,
                      processing_class=tok, callbacks=[timer])
    return trainer.train().metrics["train_samples_per_second"]


def train_ours(spec: dict, cfg, timer) -> float:
    """``ie.training.train_<task>`` on the composed config, the timer added to the run's callbacks;
    returns the Trainer's own samples/s (from the run's log history)."""
    from ie import run_logs, training
    from ie.runs import load_data

    callbacks = run_logs.callbacks
    run_logs.callbacks = lambda *a, **k: callbacks(*a, **k) + [timer]
    try:
        getattr(training, f"train_{spec['task']}")(cfg, load_data(cfg), Path(spec["tmp"]))
    finally:
        run_logs.callbacks = callbacks
    history = json.loads((Path(spec["tmp"]) / "trainer" / spec["task"] / "log_history.json").read_text())
    return history[-1].get("train_samples_per_second")


def measure_training(spec: dict) -> dict:
    task, steps, batch = spec["task"], spec["steps"], spec["batch_size"]
    cfg = compose_train(["data=conll04", "~data.splits.dev", f"task={task}", f"trainer.{task}.max_steps={steps}",
                         f"trainer.{task}.batch_size={batch}", f"paths.output_dir={spec['tmp']}",
                         "trainer.disable_tqdm=true"] + spec["overrides"])
    timer = step_timer()
    out = {"trainer_samples_per_s": (train_plain if spec["impl"] == "plain" else train_ours)(spec, cfg, timer)}
    if spec["impl"] == "ours":
        out["precision"] = "bf16" if cfg.trainer.bf16 else "fp32"
        out["group_by_length"] = bool(cfg.trainer.group_by_length)
        out["fast_dropout"] = bool(cfg.trainer.fast_dropout)
    rows_per_s = timer.steps * batch / timer.seconds() if timer.seconds() else None
    out.update(rows_per_s=rows_per_s, rows_per_epoch=timer.rows, timed_steps=timer.steps,
               checkpoint_seconds=timer.save_seconds)
    if task == "ner":
        out["samples_per_s"] = rows_per_s or out["trainer_samples_per_s"]
    elif rows_per_s and timer.rows:  # epoch-equivalent rates, whatever one training row is (pair or sentence)
        schema, train = train_records(cfg)
        texts, _, sentences = re_examples(train, schema)
        out.update(sentences=sentences, pairs=len(texts), samples_per_s=rows_per_s * sentences / timer.rows,
                   pairs_per_s=rows_per_s * len(texts) / timer.rows)
    return out


# --- workers -------------------------------------------------------------------------------------

def worker(spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    out = measure_inference(spec) if spec["kind"] == "infer" else measure_training(spec)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    Path(out_path).write_text(json.dumps(out))


def run_worker(spec: dict) -> dict:
    """``spec`` measured in a fresh process of this script; failures are reported, not raised."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        spec = {**spec, "tmp": tmp}
        (Path(tmp) / "spec.json").write_text(json.dumps(spec))
        proc = subprocess.run([sys.executable, __file__, "--worker", f"{tmp}/spec.json", f"{tmp}/out.json"],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode:
            return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}",
                    "stderr_tail": proc.stderr[-3000:]}
        return json.loads((Path(tmp) / "out.json").read_text())


# --- agreement ---------------------------------------------------------------------------------

def _reason(side: str, ent, overlapping, word_starts, word_ends, sentences, name: str = "the pipeline",
            own: str = "ours") -> str:
    """Why an entity found by one side only (``ours``, called ``own``, or ``theirs``, called ``name``)
    differs, as far as the spans and our own sentences and words tell."""
    label, a, b = ent

    def inside_word(e):
        return e[1] not in word_starts or e[2] not in word_ends

    def sentence_of(pos):
        return next((i for i, (start, end) in enumerate(sentences) if start <= pos < end), None)
    if any(o[1:] == ent[1:] for o in overlapping):
        return "same span, different label"
    if side == "theirs" and sentence_of(a) != sentence_of(b - 1):
        return f"sentence boundary: {name}'s entity runs across our sentence split"
    if side == "ours" and len(overlapping) > 1:
        cuts = [o[1] for o in overlapping[1:]]
        return (f"{name} split a word into two entities" if any(c not in word_starts for c in cuts)
                else f"{name} split one entity into several at word boundaries")
    if side == "theirs" and len(overlapping) > 1:
        return f"{name} merged entities that {own} keeps apart"
    if (side == "theirs" and inside_word(ent)) or any(inside_word(o) for o in overlapping if side == "ours"):
        return f"subword label disagreement: a boundary of {name} inside one of our words"
    if overlapping:
        return "boundaries differ at word level" if label == overlapping[0][0] else "boundaries and label differ"
    return f"only {own if side == 'ours' else name} found it"


def diff_entities(text: str, ours, theirs, name: str = "the pipeline", own: str = "ours") -> dict:
    """Equal / only ours / only theirs entities ``(label, start, end)`` of one document, each
    difference with the other side's overlapping entities and a reason class."""
    from ie.text import split_sentences

    sents = split_sentences(text)
    starts = {t.start for s in sents for t in s.tokens}
    ends = {t.end for s in sents for t in s.tokens}
    bounds = [(s.start, s.end) for s in sents]
    ours, theirs = (sorted(set(map(tuple, x)), key=lambda e: e[1:]) for x in (ours, theirs))
    diffs = []
    for side, mine, other in (("ours", ours, theirs), ("theirs", theirs, ours)):
        for ent in sorted(set(mine) - set(other), key=lambda e: e[1:]):
            overlapping = [o for o in other if o[1] < ent[2] and ent[1] < o[2]]
            diffs.append({"side": side, "entity": list(ent), "text": text[ent[1]:ent[2]],
                          "other_side": [list(o) for o in overlapping],
                          "reason": _reason(side, ent, overlapping, starts, ends, bounds, name, own)})
    equal = len(set(ours) & set(theirs))
    return {"equal": equal, "only_ours": len(ours) - equal, "only_theirs": len(theirs) - equal, "diffs": diffs}


def agreement(texts, ours, theirs, name: str = "the pipeline", own: str = "ours") -> dict:
    """:func:`diff_entities` over documents, added up, with the count of each reason."""
    total = {"equal": 0, "only_ours": 0, "only_theirs": 0, "reasons": {}, "diffs": []}
    for d, (text, mine, other) in enumerate(zip(texts, ours, theirs)):
        one = diff_entities(text, mine, other, name, own)
        for key in ("equal", "only_ours", "only_theirs"):
            total[key] += one[key]
        for diff in one["diffs"]:
            total["reasons"][diff["reason"]] = total["reasons"].get(diff["reason"], 0) + 1
            total["diffs"].append({"doc": d, **diff})
    return total


# --- orchestration and report ------------------------------------------------------------------

def inference_specs(args) -> list[tuple[str, dict]]:
    seeds, conll = seed_documents(args.docs), conll04_documents()
    corpora = [("seeds", seeds, Path(args.run), min(args.docs, 5), 0),
               ("conll04", conll, Path(args.conll04_run or args.run), len(conll), args.latency_calls)]
    specs = []
    for corpus, texts, run, unique, latency in corpora:
        common = {"kind": "infer", "run": str(run), "corpus": corpus, "texts": texts, "unique": unique,
                  "batch_size": args.batch_size, "repeats": args.repeats, "latency_calls": latency,
                  "docs": len(texts), "words": words(texts)}
        engines = [("ours", p, ["ner"]) for p in ("fp32", "bf16")]
        if (run / "re").is_dir():
            engines += [("ours", p, ["ner", "re"]) for p in ("fp32", "bf16")] + [("ours-hf", "bf16", ["ner", "re"])]
        engines += [("pipeline", p, ["ner"]) for p in PIPELINE_PRECISIONS]
        for engine, precision, tasks in engines:
            specs.append((f"{corpus} {engine} {'+'.join(tasks)} {precision}",
                          {**common, "engine": engine, "precision": precision, "tasks": tasks}))
    return specs


def find(results, corpus, engine, tasks, precision):
    return next((r for r in results if (r["corpus"], r["engine"], r["tasks"], r["precision"]) ==
                 (corpus, engine, tasks, precision) and "error" not in r), None)


def ratio(a, b, key="docs_per_s"):
    return a[key] / b[key] if a and b and a.get(key) and b.get(key) else None


def merge_peaks(before: dict, after: dict) -> dict:
    """The machine measured before and after the inference runs: each peak is the better of the two
    (a busy moment only lowers it), both kept with the load averages."""
    out = dict(before)
    for key in ("fp32_gflops", "bf16_gflops", "load_average"):
        out[f"{key}_before_after"] = [before[key], after[key]]
        out[key] = max(before[key], after[key])
    return out


def summarise(results: list[dict], peak: dict) -> tuple[dict, dict]:
    for r in results:
        if "error" not in r:
            bits = "bf16" if PIPELINE_PRECISIONS.get(r["precision"], r["precision"]) == "bf16" else "fp32"
            r["share_of_peak"] = r["gflops_per_s"] / peak[f"{bits}_gflops"]
    ratios, agree = {}, {}
    for corpus in ("seeds", "conll04"):
        pipe = {p: find(results, corpus, "pipeline", ["ner"], p) for p in PIPELINE_PRECISIONS}
        bf16 = max((pipe[p] for p in ("bf16_autocast", "bf16_weights") if pipe[p]), key=lambda r: r["docs_per_s"],
                   default=None)
        for tasks in (["ner"], ["ner", "re"]):
            # the baseline as a user runs it (fp32), then each precision against its own kind
            for ours_p, their, name in (("bf16", pipe["fp32"], "fp32"), ("fp32", pipe["fp32"], "fp32"),
                                        ("bf16", bf16, "best bf16")):
                value = ratio(find(results, corpus, "ours", tasks, ours_p), their)
                if value:
                    ratios[f"{corpus}: ours {'+'.join(tasks)} {ours_p} / pipeline ner {name}"] = value
        ours32 = find(results, corpus, "ours", ["ner"], "fp32")
        texts = next(r["texts"] for r in results if r["corpus"] == corpus)[:ours32["unique"]] if ours32 else []
        if ours32 and pipe["fp32"]:
            agree[f"{corpus}: ours fp32 vs pipeline fp32"] = agreement(texts, ours32["entities"],
                                                                       pipe["fp32"]["entities"])
        ours16 = find(results, corpus, "ours", ["ner"], "bf16")
        if ours32 and ours16:
            agree[f"{corpus}: ours bf16 vs ours fp32"] = agreement(texts, ours16["entities"], ours32["entities"],
                                                                   "fp32", "bf16")
    return ratios, agree


# --- F1 of each speed option --------------------------------------------------------------------

F1_METRICS = {"NER (strict)": ("ner", "strict"), "NER (default)": ("ner", "default"),
              "RE gold entities": ("re", "gold_entities", "strict"), "RE end to end": ("re", "end_to_end", "strict")}
F1_OPTIONS = [("fp32", "transformers"), ("fp32", "lean"), ("bf16", "transformers"), ("bf16", "lean")]


def f1_changes(runs: dict[str, str]) -> list[dict]:
    """Test-split micro F1 (``evaluate_run``, the scorer of evaluate.py) of every precision and backend,
    and its change in points from fp32 on the transformers classes, the reference."""
    from ie.evaluation import evaluate_run

    rows = []
    for corpus, run in runs.items():
        reference = None
        for precision, backend in tqdm(F1_OPTIONS, desc=f"F1 {corpus}", unit="option"):
            result = evaluate_run(run, precision=precision, backend=backend, write=False)
            f1 = {}
            for name, path in F1_METRICS.items():
                node = result
                for key in path:
                    node = node.get(key, {}) if isinstance(node, dict) else {}
                if node:
                    f1[name] = 100 * node["micro"]["f1"]
            reference = reference or f1
            rows.append({"corpus": corpus, "run": str(run), "precision": precision, "backend": backend, "f1": f1,
                         "change": {k: v - reference[k] for k, v in f1.items()}})
    return rows


def f1_table(rows: list[dict]) -> list[str]:
    names = list(F1_METRICS)
    lines = ["| test set | precision | backend | " + " | ".join(f"{n} F1 (change)" for n in names) + " |",
             "|---|---|---|" + "---|" * len(names)]
    for r in rows:
        cells = [f"{r['f1'][n]:.2f} ({r['change'][n]:+.2f})" if n in r["f1"] else "-" for n in names]
        lines.append(f"| {r['corpus']} | {r['precision']} | {r['backend']} | " + " | ".join(cells) + " |")
    return lines


def training_specs(args) -> list[tuple[str, dict]]:
    specs = []
    for task in ["ner"] + (["re"] if not args.skip_re_training else []):
        # the last one is ours with torch's own dropout: what ie/dropout.py buys
        for impl, precision, variant, extra in (("plain", "fp32", None, []), ("plain", "bf16", None, []),
                                                ("ours", "config", None, []),
                                                ("ours", "config", "torch-dropout", ["trainer.fast_dropout=false"])):
            specs.append((f"train {task} {impl} {variant or precision}",
                          {"kind": "train", "task": task, "impl": impl, "precision": precision, "variant": variant,
                           "steps": args.train_steps, "batch_size": args.train_batch_size,
                           "overrides": args.train_overrides + extra}))
    return specs


def fmt(value, spec="{:.1f}"):
    return "-" if value is None else spec.format(value)


def tables(report: dict) -> str:
    m = report["machine"]
    lines = [(f"Machine: {m['cpu']}, {m['threads']} torch threads, torch {m['torch']}; matmul peak "
              f"{m['fp32_gflops']:.0f} GFLOP/s fp32, {m['bf16_gflops']:.0f} GFLOP/s bf16 ({m['matmul_size']}^2, "
              "best of 5); 1-min load average "
              f"{' then '.join(f'{x:.1f}' for x in m.get('load_average_before_after', [m['load_average']]))}"),
             "", ("| corpus | engine | tasks | precision | docs/s | words/s | p50 ms | p95 ms | peak RSS MiB | padding "
                  "| GFLOP/s | % of peak |"), "|" + "---|" * 12]
    for r in report["inference"]:
        if "error" in r:
            lines.append(f"| {r['corpus']} | {r['engine']} | {'+'.join(r['tasks'])} | {r['precision']} | failed: "
                         f"{r['error'][:80]} |")
            continue
        lat = r.get("latency_ms", {})
        lines.append(f"| {r['corpus']} | {r['engine']} | {'+'.join(r['tasks'])} | {r['precision']} | "
                     f"{r['docs_per_s']:.1f} | {r['words_per_s']:.0f} | {fmt(lat.get('p50'))} | "
                     f"{fmt(lat.get('p95'))} | "
                     f"{r['peak_rss_mib']:.0f} | {r['padding_share']:.0%} | {r['gflops_per_s']:.1f} | "
                     f"{r['share_of_peak']:.1%} |")
    if any(r.get("share_of_peak", 0) > 1 for r in report["inference"]):
        lines.append("\nWARNING: a share of peak above 100% means the machine was busier while its peak was measured "
                     "than during that configuration: rerun on a quiet machine.")
    lines += ["", "| throughput ratio (docs/s) | x |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in report["ratios"].items()]
    lines += ["", "| agreement (NER entities: label, char start, char end) | equal | only ours | only theirs |",
              "|---|---|---|---|"]
    lines += [f"| {k} | {a['equal']} | {a['only_ours']} | {a['only_theirs']} |" for k, a in report["agreement"].items()]
    if report.get("training"):
        lines += ["", ("| training (CoNLL04 train) | precision | samples/s (sentences) | pairs/s | Trainer-reported "
                       "rows/s | peak RSS MiB |"), "|---|---|---|---|---|---|"]
        for t in report["training"]:
            name = f"{t['task']} {t['impl']}" + (f" ({t['variant']})" if t.get("variant") else "")
            if "error" in t:
                lines.append(f"| {name} | {t['precision']} | failed: {t['error'][:80]} | | | |")
                continue
            lines.append(f"| {name} | {t.get('precision')} | {fmt(t.get('samples_per_s'))} | "
                         f"{fmt(t.get('pairs_per_s'))} "
                         f"| {fmt(t.get('trainer_samples_per_s'))} | {t['peak_rss_mib']:.0f} |")
        lines += [f"| ratio {k} | {v:.2f} | | | | |" for k, v in report["training_ratios"].items()]
    return "\n".join(lines)


def training_ratios(rows: list[dict]) -> dict:
    """ours / plain bf16, ours / plain fp32, plain bf16 / plain fp32 and ours / ours with torch's dropout,
    per task (samples/s)."""
    ok = {(t["task"], t.get("variant") or (t["impl"] if t["impl"] == "ours" else t["precision"])): t
          for t in rows if "error" not in t}
    out = {}
    for task in ("ner", "re"):
        for name, a, b in (("ours / plain bf16", "ours", "bf16"), ("ours / plain fp32", "ours", "fp32"),
                           ("plain bf16 / plain fp32", "bf16", "fp32"),
                           ("ours / ours with torch dropout", "ours", "torch-dropout")):
            value = ratio(ok.get((task, a)), ok.get((task, b)), "samples_per_s")
            if value:
                out[f"{task}: {name}"] = value
    return out


def optimisations(report: dict) -> list[str]:
    """What each optimisation bought, in words, from the measurements."""
    res, out = report["inference"], []
    for corpus in ("seeds", "conll04"):
        o32, o16 = find(res, corpus, "ours", ["ner"], "fp32"), find(res, corpus, "ours", ["ner"], "bf16")
        e32, p32 = find(res, corpus, "ours", ["ner", "re"], "fp32"), find(res, corpus, "pipeline", ["ner"], "fp32")
        lean, hf = find(res, corpus, "ours", ["ner", "re"], "bf16"), find(res, corpus, "ours-hf", ["ner", "re"], "bf16")
        if ratio(lean, hf):
            out.append(f"{corpus}: the lean encoder (ie.lean_bert) made NER+RE in bf16 {ratio(lean, hf):.2f}x as fast as "
                       f"the same Predictor on the transformers classes, at {lean['peak_rss_mib']:.0f} MiB peak RSS "
                       f"instead of {hf['peak_rss_mib']:.0f}.")
        if ratio(o16, o32):
            out.append(f"{corpus}: precision=bf16 made our NER {ratio(o16, o32):.2f}x as fast as fp32 "
                       f"({o16['share_of_peak']:.0%} of the bf16 peak vs {o32['share_of_peak']:.0%} of the fp32 peak).")
        if ratio(o32, p32):
            out.append(f"{corpus}: sentence-level, length-sorted batching made our fp32 NER {ratio(o32, p32):.2f}x the "
                       f"pipeline's docs/s; it fed {o32['tokens_fed']:,} tokens ({o32['padding_share']:.0%} padding) "
                       "where the "
                       f"pipeline fed {p32['tokens_fed']:,} ({p32['padding_share']:.0%} padding).")
        if ratio(e32, o32):
            out.append(f"{corpus}: relation extraction costs {1 / ratio(e32, o32):.2f}x the time of NER alone (fp32).")
    tr = report.get("training_ratios", {})
    for task in ("ner", "re"):
        if f"{task}: plain bf16 / plain fp32" in tr and f"{task}: ours / plain bf16" in tr:
            bf16, rest = tr[f"{task}: plain bf16 / plain fp32"], tr[f"{task}: ours / plain bf16"]
            out.append(f"training {task}: bf16 alone bought {bf16:.2f}x over plain fp32; "
                       f"the rest of ours (length-grouped batches, our features, fast dropout) {rest:.2f}x "
                       f"over plain bf16.")
        if f"{task}: ours / ours with torch dropout" in tr:
            out.append(f"training {task}: fast dropout (ie/dropout.py) made ours "
                       f"{tr[f'{task}: ours / ours with torch dropout']:.2f}x as fast as with torch's dropout.")
    return out


def bars(report: dict) -> list[str]:
    """The issue-6 bars against what this run measured (ours at precision="bf16", the default backend)."""
    res, ratios, lines = report["inference"], report["ratios"], ["| bar | measured | met |", "|---|---|---|"]

    def row(name, values, ok):
        lines.append(f"| {name} | {values} | {'yes' if ok else 'no'} |")
    for corpus in ("seeds", "conll04"):
        for tasks, floor in (("ner", 3.0), ("ner+re", 1.5)):
            key = f"{corpus}: ours {tasks} bf16 / pipeline ner fp32"
            if key in ratios:
                row(f"{corpus}: ours {tasks} >= {floor}x pipeline NER (fp32, as users run it)",
                    f"{ratios[key]:.2f}x", ratios[key] >= floor)
    peaks = [(f"{r['corpus']} {'+'.join(r['tasks'])} {r['precision']}", r["peak_rss_mib"])
             for r in res if r["engine"] == "ours" and "error" not in r]
    if peaks:
        strict = [n for n, v in peaks if v >= 600e6 / 2**20]
        row("Predictor peak RSS < 600 MB (read as MiB)",
            ", ".join(f"{n} {v:.0f} MiB" for n, v in peaks) + "; read as 600e6 bytes (572 MiB): "
            + (f"over in {', '.join(strict)}" if strict else "all under too"), all(v < 600 for _, v in peaks))
    tr = report.get("training_ratios", {})
    for task in ("ner", "re"):
        if f"{task}: ours / plain bf16" in tr:
            a, b = tr[f"{task}: ours / plain bf16"], tr.get(f"{task}: ours / plain fp32", 0)
            row(f"training {task} >= 1.5x plain bf16 (and >= 3x plain fp32)", f"{a:.2f}x ({b:.2f}x)",
                a >= 1.5 and b >= 3)
    changes = [(abs(c), f"{r['corpus']} {r['precision']} {r['backend']}, {metric}")
               for r in report.get("f1", []) for metric, c in r["change"].items()]
    if changes:
        largest, where = max(changes)
        row("F1 change of any speed option <= 0.3 points", f"largest {largest:.2f} ({where})", largest <= 0.3)
    return lines


def diff_lines(agree: dict, cap: int | None) -> list[str]:
    lines = []
    for key, a in agree.items():
        lines.append(f"{key}: {a['equal']} equal, {a['only_ours']} only ours, {a['only_theirs']} only theirs; "
                     + ", ".join(f"{reason}: {n}" for reason, n in sorted(a["reasons"].items(), key=lambda x: -x[1])))
        for d in a["diffs"][:cap]:
            other = "; ".join(f"{o[0]} [{o[1]},{o[2]})" for o in d["other_side"]) or "nothing"
            lines.append(f"  doc {d['doc']}: only {d['side']} {d['entity'][0]} [{d['entity'][1]},{d['entity'][2]}) "
                         f"{d['text']!r} (other side: {other}) - {d['reason']}")
        if cap is not None and len(a["diffs"]) > cap:
            lines.append(f"  ... and {len(a['diffs']) - cap} more (all in the JSON)")
    return lines


NOTES = """Notes: words are whitespace-split words of the input. Times cover the whole call (sentence splitting,
tokenisation, batching, aggregation), after a warm-up call, each configuration in a fresh process (peak RSS
is that process's ru_maxrss). Latency: one CoNLL04 sentence per call, batch of 1, cycling through the first
sentences. The pipeline reads each text in windows of the tokenizer's model_max_length with stride = the
checkpoint's stride; its bf16 variants are torch.autocast around the fp32 model (bf16_autocast) and the
model loaded with dtype=torch.bfloat16 (bf16_weights, as our Predictor's precision="bf16" does); ratios
against "best bf16" use the faster of the two. Engines: "ours" is the Predictor as loaded by default
(backend="auto": the lean encoder of ie/lean_bert.py), "ours-hf" the same Predictor with
backend="transformers". GFLOP/s: useful encoder FLOPs (real tokens only, padding left out: our lean encoder
skips most of it; per layer and sequence of T real tokens 2T(4H^2+2HI) + 4T^2H) over the wall time, as a share of the matmul peak of the same
precision. Training: steady-state optimizer steps (the first tenth left out) at a fixed step count, less
the time spent writing checkpoints (ours writes one per epoch for resume; shown in the JSON as checkpoint_seconds);
RE samples are sentences with a candidate pair, consumed at the epoch-equivalent rate, whatever one
training row is (a pair or a sentence). The runs measured: --run is the main seeds job (python train.py: four
articles for training, 004_8167059eeef70516 for test), --conll04-run is python train.py experiment=conll04_final
seed=1; the tables are re-rendered from the JSON with --from-json."""


def markdown(report: dict, diff_cap: int) -> str:
    lines = ["# Speed benchmarks", "", "Written by `benchmarks/speed.py`; command:", "",
             f"    {report['command']}", "", "## The bars of issue 6", "", *bars(report), "", tables(report), ""]
    if report.get("f1"):
        lines += ["## Test-set F1 of each precision and backend", "",
                  "Micro F1 on each run's test split, scored as `evaluate.py` scores it; in brackets the change in "
                  "points from fp32 on the transformers classes.", "", *f1_table(report["f1"]), ""]
    lines += ["## What each optimisation bought", ""]
    lines += [f"* {line}" for line in optimisations(report)] or ["(not enough configurations measured)"]
    lines += ["", "## Agreement of the NER entities (label, character span)", "", "```",
              *diff_lines(report["agreement"], diff_cap), "```"]
    return "\n".join(lines + ["", NOTES, ""])


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", help="run folder: NER (and RE) checkpoints")
    ap.add_argument("--conll04-run", help="run trained on CoNLL04 for the CoNLL04 input (default: --run)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--docs", type=int, default=100, help="seed articles repeated to this many documents")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes over each corpus (rates: the median)")
    ap.add_argument("--latency-calls", type=int, default=50)
    ap.add_argument("--peak-size", type=int, default=2048, help="side of the square matmul for the machine peak")
    ap.add_argument("--skip-inference", action="store_true")
    ap.add_argument("--skip-training", action="store_true")
    ap.add_argument("--skip-re-training", action="store_true")
    ap.add_argument("--skip-f1", action="store_true", help="skip the test-set F1 of each precision and backend")
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--train-batch-size", type=int, default=16)
    ap.add_argument("--train-overrides", nargs="*", default=[],
                    help="extra Hydra overrides of the training config (both sides read data and model from it)")
    ap.add_argument("--show-diffs", type=int, default=20, help="differences listed per comparison on the console")
    ap.add_argument("--only", help="measure only the configurations whose name matches this regular expression "
                    "(names as printed, e.g. 'seeds ours ner+re bf16', 'train re plain fp32')")
    ap.add_argument("--json", help="write the full results (every difference) here")
    ap.add_argument("--markdown", help="write the report here")
    ap.add_argument("--from-json", help="write --markdown from a finished run's JSON, measuring nothing")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.worker and not args.run and not args.from_json:
        ap.error("--run is required")
    return args


def write(path: str | None, text: str) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")


def measure_all(specs, desc: str, only: str | None, report: dict, json_path: str | None) -> list[dict]:
    """Each selected configuration in its own process, a line per result as it comes, and the
    measurements so far in the JSON file (``"complete": false``) so a long run is never lost."""
    import re

    done = []
    for name, spec in tqdm([(n, s) for n, s in specs if not only or re.search(only, n)], desc=desc, unit="config"):
        r = {**spec, **run_worker(spec)}
        done.append(r)
        rate = r.get("docs_per_s", r.get("samples_per_s")) or 0
        tqdm.write(f"{name}: " + (f"failed: {r['error']}" if "error" in r
                                  else f"{rate:.1f}/s, peak RSS {r['peak_rss_mib']:.0f} MiB"))
        sys.stdout.flush()
        partial = {**report, f"{desc}_so_far": [{k: v for k, v in x.items() if k != "texts"} for x in done]}
        write(json_path, json.dumps({**partial, "complete": False}, indent=1, ensure_ascii=False))
    return done


def main(argv=None) -> dict | None:
    args = parse_args(argv)
    if args.worker:
        return worker(*args.worker)
    if args.from_json:
        report = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
        write(args.markdown, markdown(report, 50))
        return report
    report = {"command": shlex.join([Path(sys.executable).name, *sys.argv]), "machine": machine_peak(args.peak_size)}
    specs = [] if args.skip_inference else inference_specs(args)
    results = measure_all(specs, "inference", args.only, report, args.json)
    report["machine"] = merge_peaks(report["machine"], machine_peak(args.peak_size))
    report["ratios"], report["agreement"] = summarise(results, report["machine"])
    report["inference"] = [{k: v for k, v in r.items() if k not in ("texts", "entities")} for r in results]
    if not args.skip_training:
        report["training"] = measure_all(training_specs(args), "training", args.only, report, args.json)
        report["training_ratios"] = training_ratios(report["training"])
    if not args.skip_f1:
        runs = {"seeds": args.run, "conll04": args.conll04_run or args.run}
        report["f1"] = f1_changes({k: v for k, v in runs.items() if (Path(v) / "config.yaml").exists()})
    report["optimisations"] = optimisations(report)
    print(tables(report), "", *f1_table(report.get("f1", [])), "", *report["optimisations"], "",
          *diff_lines(report["agreement"], args.show_diffs), sep="\n")
    write(args.json, json.dumps({**report, "complete": True}, indent=2, ensure_ascii=False) + "\n")
    write(args.markdown, markdown(report, 50))
    return report


if __name__ == "__main__":
    main()
