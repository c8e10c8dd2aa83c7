"""Training NER and RE with the Hugging Face Trainer, from a composed config to a run folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from datasets import Dataset
from omegaconf import DictConfig, OmegaConf
from transformers import (AutoTokenizer, DataCollatorForTokenClassification, Trainer,
                          TrainingArguments, set_seed)

from ie import distributed, dropout, run_logs, transfer
from ie.align import PAD_TO_MULTIPLE, encode_windows, first_subword_labels
from ie.checkpoint import INFO_FILE, last_trainer_checkpoint, save_checkpoint
from ie.dataset import IEData
from ie.markers import ENCODING as RE_ENCODING, WindowCollator, add_marker_tokens, reachable_pairs
from ie.metrics import ner_scores, relation_scores
from ie.modeling import build_ner_model, build_re_model
from ie.runs import prepare_data, resumed_config
from ie.schema import NO_RELATION

log = logging.getLogger(__name__)


# --- features -----------------------------------------------------------------------------------

def ner_features(ds: Dataset, tokenizer, max_length: int, stride: int) -> Dataset:
    """One row per encoder window; labels on first subwords only."""
    rows = {"input_ids": [], "labels": []}
    for words, tags in zip(ds["words"], ds["ner_tags"]):
        for window in encode_windows(tokenizer, words, max_length, stride):
            rows["input_ids"].append(list(window.input_ids))
            rows["labels"].append(first_subword_labels(window, tags))
    rows["attention_mask"] = [[1] * len(ids) for ids in rows["input_ids"]]
    return Dataset.from_dict(rows)


def re_features(ds: Dataset, tokenizer, max_length: int, schema, split: str = "") -> Dataset:
    """One row per marked window (usually one per sentence) with all its candidate pairs and their
    labels; sentences without a candidate pair give none, and pairs that cannot fit are counted."""
    ent_names = ds.features["entities"].feature["label"].names
    rel_names = ds.features["relations"].feature["label"].names
    no_relation = schema.relation_labels.index(NO_RELATION)
    rows = {"input_ids": [], "head_spans": [], "tail_spans": [], "labels": []}
    lost = 0
    for words, entities, relations in zip(ds["words"], ds["entities"], ds["relations"]):
        spans = [(e["start"], e["end"], ent_names[e["label"]]) for e in entities]
        sentence = reachable_pairs(tokenizer, words, spans, schema, max_length)
        if sentence is None:
            continue
        position = {k: i for i, k in enumerate(sentence.order)}
        gold = {(position[r["head"]], position[r["tail"]]): schema.relation_labels.index(rel_names[r["label"]])
                for r in relations if r["head"] in position and r["tail"] in position}
        lost += sentence.lost
        for window in sentence.windows(tokenizer, max_length):
            rows["input_ids"].append(list(window.input_ids))
            for key, value in window.pair_features().items():
                rows[key].append(value)
            rows["labels"].append([gold.get(pair, no_relation) for pair in window.pairs])
    if lost:
        log.warning("%s: %d relation candidate(s) longer than max_length=%d were left out", split, lost, max_length)
    return Dataset.from_dict(rows)


# --- metrics for model selection on dev -----------------------------------------------------------

def ner_dev_metrics(labels: list[str]):
    def compute(pred) -> dict:
        best = pred.predictions.argmax(-1)
        gold_seqs, pred_seqs = [], []
        for p_row, g_row in zip(best, pred.label_ids):
            keep = g_row != -100
            gold_seqs.append([labels[i] for i in g_row[keep]])
            pred_seqs.append([labels[i] for i in p_row[keep]])
        micro = ner_scores(gold_seqs, pred_seqs, sorted({t[2:] for t in labels if t != "O"}))["micro"]
        return {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1"]}
    return compute


def re_dev_metrics(labels: list[str]):
    def compute(pred) -> dict:
        keep = pred.label_ids != -100  # rows padded in when processes gather unequal pair counts
        best, gold_ids = pred.predictions.argmax(-1)[keep], pred.label_ids[keep]
        gold = [(i, labels[g]) for i, g in enumerate(gold_ids) if g != 0]
        found = [(i, labels[p]) for i, p in enumerate(best) if p != 0]
        micro = relation_scores(gold, found, labels[1:])["micro"]
        return {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1"]}
    return compute


# --- training -------------------------------------------------------------------------------------

def _per_device_batch(batch_size: int, task: str) -> int:
    """``batch_size`` is the global batch: under torchrun it is split across the processes, so the
    same config trains with the same effective batch on one process or several."""
    world = distributed.world_size()
    if batch_size % world:
        raise ValueError(f"trainer.{task}.batch_size={batch_size} is the global batch; it must divide evenly "
                         f"among {world} processes")
    return batch_size // world


def _arguments(cfg: DictConfig, task: str, out: Path, has_dev: bool) -> TrainingArguments:
    hp, tr = cfg.trainer[task], cfg.trainer
    return TrainingArguments(
        output_dir=str(out),
        seed=cfg.seed,
        data_seed=cfg.seed,
        full_determinism=tr.full_determinism,
        learning_rate=hp.learning_rate,
        num_train_epochs=hp.epochs,
        max_steps=hp.max_steps,
        per_device_train_batch_size=_per_device_batch(hp.batch_size, task),
        per_device_eval_batch_size=hp.eval_batch_size,
        warmup_steps=hp.warmup,
        weight_decay=hp.weight_decay,
        lr_scheduler_type=tr.lr_scheduler,
        bf16=tr.bf16,
        # Trainer only allows bf16 without a GPU when told it is on the CPU.
        use_cpu=bool(tr.use_cpu or not torch.cuda.is_available()),
        eval_strategy="epoch" if has_dev else "no",
        save_strategy="epoch",
        save_total_limit=tr.save_total_limit,
        load_best_model_at_end=bool(has_dev and tr.select_best),
        metric_for_best_model="f1" if has_dev else None,
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=tr.logging_steps,
        report_to=run_logs.report_to(tr.report_to),
        disable_tqdm=tr.disable_tqdm,
        train_sampling_strategy="group_by_length" if tr.group_by_length else "random",
        length_column_name="length",
        dataloader_num_workers=0,
        ddp_backend="gloo" if distributed.world_size() > 1 and not torch.cuda.is_available() else None,
        ddp_find_unused_parameters=task == "re",  # the RE encoder's pooler is not used
        # Off: with it on, the Trainer multiplies the loss of any model whose forward takes **kwargs by the
        # number of processes, expecting the model to divide by a global token count; ours (and BERT's token
        # classifier) return a plain mean, so gradients and logged losses would double under torchrun.
        average_tokens_across_devices=False,
    )


def _with_length(ds: Dataset) -> Dataset:
    return ds.add_column("length", [len(ids) for ids in ds["input_ids"]])


def train_ner(cfg: DictConfig, data: IEData, run_dir: Path) -> Path:
    hp = cfg.trainer.ner
    set_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.name_or_path)
    labels = data.schema.bio_tags
    model = build_ner_model(cfg.model, labels)
    transfer.maybe_init(cfg, "ner", model, data.schema)
    featurize = lambda split: ner_features(data.ner[split], tokenizer, hp.max_length, hp.stride)  # noqa: E731
    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=PAD_TO_MULTIPLE)
    return _fit(cfg, "ner", data, run_dir, model, tokenizer, featurize, collator, ner_dev_metrics(labels),
                stride=hp.stride)


def train_re(cfg: DictConfig, data: IEData, run_dir: Path) -> Path:
    hp = cfg.trainer.re
    set_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.name_or_path)
    add_marker_tokens(tokenizer, data.schema.entity_labels)
    labels = data.schema.relation_labels
    model = build_re_model(cfg.model, labels, len(tokenizer))
    transfer.maybe_init(cfg, "re", model, data.schema)
    featurize = lambda split: re_features(data.ner[split], tokenizer, hp.max_length, data.schema, split)  # noqa: E731
    return _fit(cfg, "re", data, run_dir, model, tokenizer, featurize, WindowCollator(tokenizer, PAD_TO_MULTIPLE),
                re_dev_metrics(labels), encoding=RE_ENCODING)


def _fit(cfg: DictConfig, task: str, data: IEData, run_dir: Path, model, tokenizer, featurize, collator,
         compute_metrics, stride: int = 0, **info) -> Path:
    """Train with the Trainer (selecting on dev when there is one) and save the checkpoint atomically.

    Under ``resume`` training continues from the last complete Trainer checkpoint. Every process
    trains; only rank 0 writes the history and the checkpoint, and the others wait for it.
    """
    if cfg.trainer.fast_dropout and (cfg.trainer.use_cpu or not torch.cuda.is_available()):
        dropout.install(model)
    train_set = _with_length(featurize("train"))
    dev_set = featurize("dev") if "dev" in data.splits else None
    out = run_dir / "trainer" / task
    trainer = Trainer(model=model, args=_arguments(cfg, task, out, dev_set is not None), train_dataset=train_set,
                      eval_dataset=dev_set, processing_class=tokenizer, data_collator=collator,
                      compute_metrics=compute_metrics,
                      callbacks=run_logs.callbacks(cfg.trainer.report_to, run_dir, task))
    start = last_trainer_checkpoint(out) if cfg.resume else None
    if cfg.resume:
        log.info("%s: %s", task, f"resuming from {start}" if start else "no complete checkpoint, starting afresh")
    trainer.train(resume_from_checkpoint=str(start) if start else None)
    dest = run_dir / task
    if distributed.is_main():
        _write_history(trainer, out / "log_history.json")
        run_logs.write_epoch_csv(trainer.state.log_history, run_logs.epochs_csv_path(run_dir, task))
        save_checkpoint(trainer.model, tokenizer, data.schema, dest, task, cfg.trainer[task].max_length, stride,
                        encoder=cfg.model.name_or_path, data_fingerprint=data.fingerprint, **info)
    distributed.barrier()
    return dest


def _write_history(trainer: Trainer, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(trainer.state.log_history, indent=2), encoding="utf-8")


def train(cfg: DictConfig) -> dict:
    """Train the configured tasks into ``cfg.paths.output_dir``, score them like evaluate.py does and
    write the model card (``README.md``).

    With ``resume=RUN`` the run continues in RUN with RUN's own config. Under torchrun every process
    trains; rank 0 alone writes and scores, and the other processes return ``{}``.
    """
    from ie.card import write_model_card
    from ie.evaluation import evaluate_run, write_evaluation

    if cfg.resume:
        cfg = resumed_config(cfg)
    unknown = set(cfg.task.names) - {"ner", "re"}
    if unknown or not cfg.task.names:
        raise ValueError(f"task.names: expected a non-empty subset of [ner, re], got {list(cfg.task.names)}")
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if distributed.is_main() and not cfg.resume:
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    data = prepare_data(cfg, run_dir)
    for task, fit in (("ner", train_ner), ("re", train_re)):
        if task not in cfg.task.names:
            continue
        if cfg.resume and (run_dir / task / INFO_FILE).exists():
            log.info("%s: finished before the interruption, kept: %s", task.upper(), run_dir / task)
            continue
        log.info("%s checkpoint: %s", task.upper(), fit(cfg, data, run_dir))
    if not distributed.is_main():
        return {}
    results = evaluate_run(run_dir, split=cfg.evaluate_split, batch_size=cfg.eval_batch_size)
    write_evaluation(results, run_dir / "metrics.json")
    log.info("model card: %s", write_model_card(run_dir))
    return results
