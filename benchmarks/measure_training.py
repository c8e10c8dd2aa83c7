"""Training measurements, run in a worker process per configuration: steady-state optimizer steps of our
training (``ie.training.fit``) against a plain ``run_ner`` / ``run_classification`` style Trainer."""

from __future__ import annotations

import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
    from ie.data.dataset import candidate_pairs
    from ie.data.schema import NO_RELATION

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
    from ie.data.corpus import load_corpus
    from ie.data.schema import Schema

    schema = Schema.load(cfg.data.schema)
    records, splits = load_corpus(cfg.data, schema)
    return schema, [r for d in splits["train"] for r in records[d]]


def train_plain(spec: dict, cfg, timer) -> float:
    """run_ner / run_classification style: AutoModelFor*, default random sampler, no evaluation, no
    saving; returns the Trainer's own samples/s."""
    from datasets import Dataset
    from transformers import (
        AutoConfig,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    schema, train = train_records(cfg)
    tok = AutoTokenizer.from_pretrained(cfg.model.name_or_path)
    if spec["task"] == "ner":
        labels, auto = schema.bio_tags, AutoModelForTokenClassification
        collator = DataCollatorForTokenClassification(tok)
        enc = tok([r.words for r in train], is_split_into_words=True, truncation=True)
        data = {**enc, "labels": []}
        for i, r in enumerate(train):  # the word's label on its first subword, -100 elsewhere
            tags, wids = r.bio_tags(), enc.word_ids(i)
            data["labels"].append(
                [-100 if w is None or w == prev else labels.index(tags[w]) for w, prev in zip(wids, [None] + wids[:-1])]
            )
    else:
        labels, auto = schema.relation_labels, AutoModelForSequenceClassification
        collator = DataCollatorWithPadding(tok)
        texts, ids, _ = re_examples(train, schema)
        data = {**tok(texts, truncation=True), "labels": ids}
    config = AutoConfig.from_pretrained(
        cfg.model.name_or_path,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={x: i for i, x in enumerate(labels)},
    )
    for key, value in (cfg.model.config_overrides or {}).items():
        setattr(config, key, value)
    model = (
        auto.from_config(config)
        if cfg.model.from_scratch
        else auto.from_pretrained(cfg.model.name_or_path, config=config)
    )
    args = TrainingArguments(
        output_dir=spec["tmp"],
        max_steps=spec["steps"],
        per_device_train_batch_size=spec["batch_size"],
        bf16=spec["precision"] == "bf16",
        use_cpu=True,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        seed=42,
        logging_steps=10,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict(data),
        data_collator=collator,
        processing_class=tok,
        callbacks=[timer],
    )
    return trainer.train().metrics["train_samples_per_second"]


def train_ours(spec: dict, cfg, timer) -> float:
    """``ie.training.fit.train_<task>`` on the composed config, the timer added to the run's callbacks;
    returns the Trainer's own samples/s (from the run's log history)."""
    from ie.training import fit, run_logs
    from ie.training.prepare import load_data

    callbacks = run_logs.callbacks
    run_logs.callbacks = lambda *a, **k: callbacks(*a, **k) + [timer]
    try:
        getattr(fit, f"train_{spec['task']}")(cfg, load_data(cfg), Path(spec["tmp"]))
    finally:
        run_logs.callbacks = callbacks
    history = json.loads((Path(spec["tmp"]) / "trainer" / spec["task"] / "log_history.json").read_text())
    return history[-1].get("train_samples_per_second")


def measure_training(spec: dict) -> dict:
    task, steps, batch = spec["task"], spec["steps"], spec["batch_size"]
    cfg = compose_train(
        [
            "data=conll04",
            "mix=none",
            "~data.splits.dev",
            f"task={task}",
            f"trainer.{task}.max_steps={steps}",
            f"trainer.{task}.batch_size={batch}",
            f"paths.output_dir={spec['tmp']}",
            "trainer.disable_tqdm=true",
        ]
        + spec["overrides"]
    )
    timer = step_timer()
    out = {"trainer_samples_per_s": (train_plain if spec["impl"] == "plain" else train_ours)(spec, cfg, timer)}
    if spec["impl"] == "ours":
        from ie.precision import resolve_bf16

        out["precision"] = "bf16" if resolve_bf16(cfg.trainer.bf16, use_cpu=True)[0] else "fp32"
        out["group_by_length"] = bool(cfg.trainer.group_by_length)
        out["fast_dropout"] = bool(cfg.trainer.fast_dropout)
    rows_per_s = timer.steps * batch / timer.seconds() if timer.seconds() else None
    out.update(
        rows_per_s=rows_per_s, rows_per_epoch=timer.rows, timed_steps=timer.steps, checkpoint_seconds=timer.save_seconds
    )
    if task == "ner":
        out["samples_per_s"] = rows_per_s or out["trainer_samples_per_s"]
    elif rows_per_s and timer.rows:  # epoch-equivalent rates, whatever one training row is (pair or sentence)
        schema, train = train_records(cfg)
        texts, _, sentences = re_examples(train, schema)
        out.update(
            sentences=sentences,
            pairs=len(texts),
            samples_per_s=rows_per_s * sentences / timer.rows,
            pairs_per_s=rows_per_s * len(texts) / timer.rows,
        )
    return out
