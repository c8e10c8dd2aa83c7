"""One task trained with the Hugging Face Trainer, from the composed config to an atomically saved
checkpoint: the Trainer's arguments, the model and features of each task, and resuming."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import torch
from datasets import Dataset
from omegaconf import DictConfig
from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments, set_seed

from ie import distributed
from ie.data.bio import transition_counts
from ie.data.dataset import IEData
from ie.encoding.align import PAD_TO_MULTIPLE
from ie.encoding.markers import ENCODING as RE_ENCODING
from ie.encoding.markers import add_marker_tokens
from ie.errors import ConfigError
from ie.inference.decoding import DEFAULTS as DECODING_DEFAULTS
from ie.inference.decoding import check_decoding
from ie.models import dropout, transfer
from ie.models.checkpoint import save_checkpoint
from ie.models.modeling import build_ner_model, build_re_model, check_ner_head, load_tokenizer, ner_labels
from ie.precision import resolve_bf16
from ie.training import run_logs
from ie.training.collators import SpanCollator, WindowCollator
from ie.training.dev_metrics import candidate_dev_metrics, ner_dev_metrics
from ie.training.distill import distilling
from ie.training.features import ner_features, ner_span_features, re_features
from ie.training.resume import last_trainer_checkpoint
from ie.training.window_trainer import WindowTrainer

log = logging.getLogger(__name__)


def _per_device_batch(batch_size: int, task: str) -> int:
    """``batch_size`` is the global batch: under torchrun it is split across the processes, so the
    same config trains with the same effective batch on one process or several."""
    world = distributed.world_size()
    if batch_size % world:
        raise ConfigError(
            f"trainer.{task}.batch_size={batch_size} is the global batch; it must divide evenly among {world} processes"
        )
    return batch_size // world


def checkpoint_schedule(tr: DictConfig, has_dev: bool, rows: int, batch_size: int) -> dict:
    """When the Trainer writes a checkpoint: every epoch where a dev split picks the best one, else every
    ``trainer.checkpoint_every_epochs`` epochs and at the end. Those are only resume points, and each costs ~0.6 s
    (weights and optimizer state, 270 MB for MiniLM): 80 a main job when written every epoch."""
    every = tr.checkpoint_every_epochs
    if every < 1:
        raise ConfigError(f"trainer.checkpoint_every_epochs must be at least 1, got {every}")
    if has_dev and tr.select_best or every == 1:
        return {"save_strategy": "epoch"}
    return {"save_strategy": "steps", "save_steps": every * max(1, math.ceil(rows / batch_size))}


# The hyperparameters (learning rate, epochs, batch) of a shared encoder's trainings: a joint model trains on the NER
# windows as NER does; a relation head on a frozen NER encoder (shared_head) as the RE model does.
HPARAMS_OF = {"joint": "ner", "shared_head": "re"}
LABELS_OF = {"joint": "labels", "shared_head": "pair_labels"}


def _arguments(cfg: DictConfig, task: str, out: Path, has_dev: bool, rows: int) -> TrainingArguments:
    hp, tr = cfg.trainer[HPARAMS_OF.get(task, task)], cfg.trainer
    return TrainingArguments(
        output_dir=str(out),
        seed=cfg.seed,
        data_seed=cfg.seed,
        full_determinism=tr.full_determinism,
        learning_rate=hp.learning_rate,
        num_train_epochs=hp.epochs,
        max_steps=hp.max_steps,
        per_device_train_batch_size=_per_device_batch(hp.batch_size, HPARAMS_OF.get(task, task)),
        per_device_eval_batch_size=hp.eval_batch_size,
        warmup_steps=hp.warmup,
        weight_decay=hp.weight_decay,
        lr_scheduler_type=tr.lr_scheduler,
        bf16=resolve_bf16(tr.bf16, use_cpu=tr.use_cpu)[0],  # train() has chosen it; "auto" here only if called alone
        # Trainer only allows bf16 without a GPU when told it is on the CPU.
        use_cpu=bool(tr.use_cpu or not torch.cuda.is_available()),
        eval_strategy="epoch" if has_dev else "no",
        **checkpoint_schedule(tr, has_dev, rows, hp.batch_size),
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
        # the pooler of the encoders under the RE and span NER heads is not used
        ddp_find_unused_parameters=task in ("re", *HPARAMS_OF) or cfg.model.ner_head == "span",
        # what the dev score reads of a shared encoder's batches: NER tags (joint) or pair labels (shared_head)
        **({"label_names": [LABELS_OF[task]]} if task in LABELS_OF else {}),
        # Off: with it on, the Trainer multiplies the loss of any model whose forward takes **kwargs by the
        # number of processes, expecting the model to divide by a global token count; ours (and BERT's token
        # classifier) return a plain mean, so gradients and logged losses would double under torchrun.
        average_tokens_across_devices=False,
    )


LOSS_WEIGHTS = ("none", "balanced", "binary_balanced")


def loss_weights(labels: list[list[int]], classes: int, how: str) -> torch.Tensor | None:
    """Class weights of the RE loss (class 0 is no_relation): ``none`` leaves every class at 1;
    ``balanced`` gives class c the weight N / (classes * n_c) (sklearn's; a class absent from training
    keeps 1); ``binary_balanced`` gives the no_relation pairs together the weight of all relation pairs
    together, every relation class 1, so the many negatives stop drowning the few relations without
    blowing up the rarest relation."""
    if how not in LOSS_WEIGHTS:
        raise ConfigError(f"trainer.re.loss_weights: expected one of {', '.join(LOSS_WEIGHTS)}, got '{how}'")
    if how == "none":
        return None
    counts = torch.bincount(torch.tensor([y for row in labels for y in row], dtype=torch.long), minlength=classes)
    if how == "binary_balanced":
        weights = torch.ones(classes)
        weights[0] = counts[1:].sum() / counts[0].clamp(min=1)
        return weights
    weights = counts.sum() / (classes * counts.clamp(min=1).float())
    return torch.where(counts > 0, weights, torch.ones_like(weights))


def _with_length(ds: Dataset) -> Dataset:
    return ds.add_column("length", [len(ids) for ids in ds["input_ids"]])


def ner_decoding(cfg: DictConfig) -> str:
    """The NER decoding of this config, checked against its head (``model.ner_head``): a mismatch fails
    before any data is read or model built."""
    head = check_ner_head(cfg.model.ner_head)
    return check_decoding(cfg.trainer.ner.decoding or DECODING_DEFAULTS[head], head)


def train_ner(cfg: DictConfig, data: IEData, run_dir: Path) -> Path:
    hp = cfg.trainer.ner
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.model)
    head, decoding = cfg.model.ner_head, ner_decoding(cfg)
    labels = ner_labels(data.schema, head)
    model = build_ner_model(cfg.model, labels)
    transfer.maybe_init(cfg, "ner", model, data.schema)
    info = {"stride": hp.stride, "decoding": decoding, **({"context": hp.context} if hp.context else {})}
    if head == "span":

        def featurize(split):
            return ner_span_features(
                data.ner[split],
                tokenizer,
                hp.max_length,
                hp.stride,
                cfg.model.max_span_words,
                cfg.model.word_shapes,
                hp.context,
            )

        return fit_task(
            cfg,
            "ner",
            data,
            run_dir,
            model,
            tokenizer,
            featurize,
            SpanCollator(tokenizer, PAD_TO_MULTIPLE),
            candidate_dev_metrics(labels),
            ner_head=head,
            trainer_class=distilling(cfg, "ner", model),  # fails: a span model has no teacher yet
            max_span_words=cfg.model.max_span_words,
            **info,
        )

    def featurize(split):
        return ner_features(
            data.ner[split],
            tokenizer,
            hp.max_length,
            hp.stride,
            cfg.model.word_shapes,
            hp.context,
        )

    collator = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=PAD_TO_MULTIPLE)
    counts = transition_counts(([labels[i] for i in tags] for tags in data.ner["train"]["ner_tags"]), labels)
    return fit_task(
        cfg,
        "ner",
        data,
        run_dir,
        model,
        tokenizer,
        featurize,
        collator,
        ner_dev_metrics(labels, decoding, counts),
        trainer_class=distilling(cfg, "ner", model),
        tag_transitions=counts,
        **info,
    )


def train_re(cfg: DictConfig, data: IEData, run_dir: Path) -> Path:
    hp = cfg.trainer.re
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.model)
    add_marker_tokens(tokenizer, data.schema.entity_labels)
    labels = data.schema.relation_labels
    model = build_re_model(cfg.model, labels, len(tokenizer))
    transfer.maybe_init(cfg, "re", model, data.schema)

    # dev pairs always carry the classes their types admit: the dev score decodes over them, as the Predictor does
    def featurize(split):
        return re_features(
            data.ner[split],
            tokenizer,
            hp.max_length,
            data.schema,
            split,
            cfg.model.word_shapes,
            hp.loss_classes if split == "train" else "schema",
        )

    return fit_task(
        cfg,
        "re",
        data,
        run_dir,
        model,
        tokenizer,
        featurize,
        WindowCollator(tokenizer, PAD_TO_MULTIPLE),
        candidate_dev_metrics(labels),
        trainer_class=distilling(cfg, "re", model),
        encoding=RE_ENCODING,
    )


def fit_task(
    cfg: DictConfig,
    task: str,
    data: IEData,
    run_dir: Path,
    model,
    tokenizer,
    featurize,
    collator,
    compute_metrics,
    stride: int = 0,
    trainer_class=None,
    save=None,
    **info,
) -> Path:
    """Train with the Trainer (selecting on dev when there is one) and save the checkpoint atomically
    (``save(cfg, model, tokenizer, data, run_dir, stride, info) -> folder``: how a training that is more than one
    checkpoint's model saves, as a shared encoder's do).

    Under ``resume`` training continues from the last complete Trainer checkpoint. Every process
    trains; only rank 0 writes the history and the checkpoint, and the others wait for it.
    """
    if cfg.trainer.fast_dropout and (cfg.trainer.use_cpu or not torch.cuda.is_available()):
        dropout.install(model)
    train_set = _with_length(featurize("train"))
    if task == "re":
        model.class_weights = loss_weights(train_set["labels"], model.config.num_labels, cfg.trainer.re.loss_weights)
    if task in HPARAMS_OF:
        model.class_weights = loss_weights(
            train_set["pair_labels"], len(model.head.relation_labels), cfg.trainer.re.loss_weights
        )
    dev_set = featurize("dev") if "dev" in data.splits else None
    out = run_dir / "trainer" / task
    args = _arguments(cfg, task, out, dev_set is not None, len(train_set))
    trainer = (trainer_class or WindowTrainer)(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=dev_set,
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=compute_metrics,
        callbacks=run_logs.callbacks(cfg.trainer.report_to, run_dir, task),
    )
    start = last_trainer_checkpoint(out) if cfg.resume else None
    if cfg.resume:
        log.info("%s: %s", task, f"resuming from {start}" if start else "no complete checkpoint, starting afresh")
    trainer.train(resume_from_checkpoint=str(start) if start else None)
    dest = run_dir / task
    if distributed.is_main():
        _write_history(trainer, out / "log_history.json")
        run_logs.write_epoch_csv(trainer.state.log_history, run_logs.epochs_csv_path(run_dir, task))
        if cfg.model.word_shapes:  # the Predictor gives the model the shapes it was trained with
            info["word_shapes"] = cfg.model.word_shapes
        info["segmenter"] = cfg.data.segmenter  # and reads raw text into the words it was trained on
        if save is not None:
            dest = save(cfg, trainer.model, tokenizer, data, run_dir, stride, info)
        else:
            save_checkpoint(
                trainer.model,
                tokenizer,
                data.schema,
                dest,
                task,
                cfg.trainer[task].max_length,
                stride,
                encoder=cfg.model.name_or_path,
                data_fingerprint=data.fingerprint,
                **info,
            )
    distributed.barrier()
    return dest


def _write_history(trainer: Trainer, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(trainer.state.log_history, indent=2), encoding="utf-8")
