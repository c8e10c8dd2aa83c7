"""One encoder for NER and relations (``model.shared_encoder``, :mod:`ie.models.shared_pairs`), trained two ways:
``joint``, NER and the relation head together on one summed loss; ``frozen``, the relation head alone on the
encoder of the NER model this run has just trained (:func:`ie.training.fit.train_ner`), which stays as it was."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig
from transformers import Trainer, set_seed

from ie.data.bio import transition_counts
from ie.data.dataset import IEData
from ie.encoding.align import PAD_TO_MULTIPLE
from ie.encoding.shared_pairs import ENCODING as SHARED_ENCODING
from ie.errors import ConfigError
from ie.inference.loading import load_model
from ie.models import transfer
from ie.models.checkpoint import save_checkpoint
from ie.models.modeling import build_ner_model, load_tokenizer, ner_labels
from ie.models.shared_pairs import JointModel, SharedPairHead
from ie.training.collators import JointCollator
from ie.training.dev_metrics import candidate_dev_metrics, ner_dev_metrics
from ie.training.features import joint_features
from ie.training.fit import fit_task, ner_decoding

SHARED_ENCODER = ("none", "joint", "frozen")  # model.shared_encoder


def _check_head(cfg: DictConfig) -> None:
    if cfg.model.ner_head != "token":
        raise ConfigError(
            f"model.shared_encoder={cfg.model.shared_encoder} needs model.ner_head=token (the relation "
            f"head reads the token classifier's encoder), got {cfg.model.ner_head}"
        )
    if cfg.trainer.distill.teacher:
        raise ConfigError(f"trainer.distill needs model.shared_encoder=none, got {cfg.model.shared_encoder}")


def _head_for(ner, data: IEData) -> SharedPairHead:
    return SharedPairHead(
        ner.config.hidden_size,
        data.schema.entity_labels,
        data.schema.relation_labels,
        getattr(ner.config, "hidden_dropout_prob", 0.1),
    )


def _featurize(cfg: DictConfig, data: IEData, tokenizer, pairs_only: bool = False):
    """Joint rows of a split: the NER windows (as ``trainer.ner`` cuts them) with their candidate pairs; the
    train split's pairs normalise over ``trainer.re.loss_classes``, dev pairs over the schema's classes, as
    the Predictor decodes."""
    hp = cfg.trainer.ner
    return lambda split: joint_features(
        data.ner[split],
        tokenizer,
        hp.max_length,
        hp.stride,
        data.schema,
        split,
        cfg.model.word_shapes,
        hp.context,
        cfg.trainer.re.loss_classes if split == "train" else "schema",
        pairs_only,
    )


def train_joint(cfg: DictConfig, data: IEData, run_dir: Path) -> Path:
    """NER and the relation head trained together on the NER windows with their gold pairs, the two losses
    summed, with ``trainer.ner``'s hyperparameters; where a dev split selects the best epoch, NER F1 does."""
    _check_head(cfg)
    set_seed(cfg.seed)
    hp = cfg.trainer.ner
    tokenizer = load_tokenizer(cfg.model)
    decoding = ner_decoding(cfg)
    labels = ner_labels(data.schema, "token")
    ner = build_ner_model(cfg.model, labels)
    transfer.maybe_init(cfg, "ner", ner, data.schema)
    model = JointModel(ner, _head_for(ner, data))
    info = {"stride": hp.stride, "decoding": decoding, **({"context": hp.context} if hp.context else {})}
    counts = transition_counts(([labels[i] for i in tags] for tags in data.ner["train"]["ner_tags"]), labels)
    return fit_task(
        cfg,
        "joint",
        data,
        run_dir,
        model,
        tokenizer,
        _featurize(cfg, data, tokenizer),
        JointCollator(tokenizer, PAD_TO_MULTIPLE),
        ner_dev_metrics(labels, decoding, counts),
        trainer_class=Trainer,
        save=_save_joint,
        tag_transitions=counts,
        **info,
    )


def train_shared_head(cfg: DictConfig, data: IEData, run_dir: Path) -> Path:
    """The relation head on the frozen encoder of ``run_dir/ner``, with ``trainer.re``'s hyperparameters;
    windows without a candidate pair are left out (they carry no relation loss)."""
    _check_head(cfg)
    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.model)
    ner = load_model(run_dir / "ner", "ner", torch.float32, "transformers")
    model = JointModel(ner, _head_for(ner, data), frozen=True)
    return fit_task(
        cfg,
        "shared_head",
        data,
        run_dir,
        model,
        tokenizer,
        _featurize(cfg, data, tokenizer, pairs_only=True),
        JointCollator(tokenizer, PAD_TO_MULTIPLE),
        candidate_dev_metrics(data.schema.relation_labels),
        save=_save_frozen_head,
    )


def _save_head(cfg: DictConfig, head, tokenizer, data: IEData, run_dir: Path, **info) -> None:
    save_checkpoint(
        head,
        tokenizer,
        data.schema,
        run_dir / "re",
        "re",
        cfg.trainer.ner.max_length,
        encoding=SHARED_ENCODING,
        shares_encoder_with="ner",
        encoder=cfg.model.name_or_path,
        data_fingerprint=data.fingerprint,
        **info,
    )


def _save_joint(cfg: DictConfig, model, tokenizer, data: IEData, run_dir: Path, stride: int, info: dict) -> Path:
    """The joint model as two checkpoints: ``ner/`` a plain token classifier (every NER backend runs it),
    ``re/`` the relation head alone, which reads the NER pass's hidden states."""
    save_checkpoint(
        model.ner,
        tokenizer,
        data.schema,
        run_dir / "ner",
        "ner",
        cfg.trainer.ner.max_length,
        stride,
        encoder=cfg.model.name_or_path,
        data_fingerprint=data.fingerprint,
        **info,
    )
    shared = {k: info[k] for k in ("word_shapes", "segmenter") if k in info}  # how the head's windows are read
    _save_head(cfg, model.head, tokenizer, data, run_dir, **shared)
    return run_dir


def _save_frozen_head(cfg: DictConfig, model, tokenizer, data: IEData, run_dir: Path, stride: int, info: dict) -> Path:
    _save_head(cfg, model.head, tokenizer, data, run_dir, **info)
    return run_dir / "re"
