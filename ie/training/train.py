"""A training run, from a composed config to a run folder (:mod:`ie.runs`): the data checked and
reported, each configured task trained, the test split scored as ``evaluate.py`` scores it, and the
model card written."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ie import distributed
from ie.errors import ConfigError
from ie.evaluation.card import write_model_card
from ie.evaluation.outputs import write_evaluation
from ie.evaluation.scoring import evaluate_run
from ie.models.checkpoint import INFO_FILE
from ie.precision import resolve_bf16
from ie.runs import CONFIG_FILE, METRICS_FILE, TASKS
from ie.training.fit import ner_decoding, train_ner, train_re
from ie.training.fit_shared import SHARED_ENCODER, train_joint, train_shared_head
from ie.training.prepare import prepare_data
from ie.training.pretrain import pretrained_run, skip_if_missing
from ie.training.resume import resumed_config

log = logging.getLogger(__name__)


def objective(results: dict) -> dict:
    """The scores a sweeper optimises: strict micro NER if trained, else strict micro RE with gold entities."""
    if "ner" in results:
        return results["ner"]["strict"]["micro"]
    return results["re"]["gold_entities"]["strict"]["micro"]


def choose_precision(cfg: DictConfig) -> None:
    """``trainer.bf16`` (and ``pretrain.trainer.bf16``) ``auto`` -> true or false, chosen once per run, logged in
    one line and kept in the run's config with the reason (``bf16_reason``), so the pre-training cache key,
    ``config.yaml`` and the model card hold what was run. A setting already chosen (a resumed run, a
    pre-training being built) is kept."""
    chosen = []
    for name, trainer in (("trainer", cfg.trainer), ("pretrain.trainer", (cfg.get("pretrain") or {}).get("trainer"))):
        if trainer is None or (isinstance(trainer.bf16, bool) and trainer.get("bf16_reason")):
            continue
        trainer.bf16, trainer.bf16_reason = resolve_bf16(trainer.bf16, f"{name}.bf16", trainer.use_cpu)
        chosen.append(f"{name} in {'bf16' if trainer.bf16 else 'fp32'} ({trainer.bf16_reason})")
    if chosen:
        log.info("precision: %s", "; ".join(chosen))


def _fits(cfg: DictConfig) -> list[tuple]:
    """``(task, training function, checkpoints it writes)`` in order: NER then RE, or with
    ``model.shared_encoder`` one encoder for both: trained at once (joint) or NER first (frozen)."""
    shared = cfg.model.shared_encoder
    if shared not in SHARED_ENCODER:
        raise ConfigError(f"model.shared_encoder: expected one of {', '.join(SHARED_ENCODER)}, got '{shared}'")
    if shared != "none" and set(cfg.task.names) != set(TASKS):
        raise ConfigError(
            f"model.shared_encoder={shared} trains NER and RE on one encoder: it needs task=all, got "
            f"task.names={list(cfg.task.names)}"
        )
    if shared == "joint":
        return [("ner+re", train_joint, ("ner", "re"))]
    if shared == "frozen":
        return [("ner", train_ner, ("ner",)), ("re", train_shared_head, ("re",))]
    return [(task, fit, (task,)) for task, fit in (("ner", train_ner), ("re", train_re)) if task in cfg.task.names]


def train(cfg: DictConfig) -> dict:
    """Train the configured tasks into ``cfg.paths.output_dir``, score them like evaluate.py does and
    write the model card (``README.md``).

    With ``resume=RUN`` the run continues in RUN with RUN's own config. Under torchrun every process
    trains; rank 0 alone writes and scores, and the other processes return ``{}``.
    """
    if cfg.resume:
        cfg = resumed_config(cfg)
    unknown = set(cfg.task.names) - set(TASKS)
    if unknown or not cfg.task.names:
        raise ConfigError(f"task.names: expected a non-empty subset of [ner, re], got {list(cfg.task.names)}")
    if "ner" in cfg.task.names:
        ner_decoding(cfg)
    choose_precision(cfg)
    if cfg.pretrain is not None and not cfg.model.init_from and not cfg.resume:
        skip_if_missing(cfg)
        if cfg.pretrain is not None:
            cfg.model.init_from = str(pretrained_run(cfg, train))  # recorded in config.yaml and the model card
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if distributed.is_main() and not cfg.resume:
        (run_dir / CONFIG_FILE).write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    data = prepare_data(cfg, run_dir)
    for task, fit, writes in _fits(cfg):
        if cfg.resume and all((run_dir / name / INFO_FILE).exists() for name in writes):
            log.info("%s: finished before the interruption, kept: %s", task.upper(), run_dir / writes[0])
            continue
        log.info("%s checkpoint: %s", task.upper(), fit(cfg, data, run_dir))
    if not distributed.is_main():
        return {}
    results = {}
    if cfg.evaluate_split in data.splits:
        results = evaluate_run(run_dir, split=cfg.evaluate_split, batch_size=cfg.eval_batch_size)
        write_evaluation(results, run_dir / METRICS_FILE)
    else:  # a final model on every document: the card quotes the estimate of its recipe (`estimate`)
        log.info("no '%s' split to score (data.splits: %s)", cfg.evaluate_split, ", ".join(data.splits))
    log.info("model card: %s", write_model_card(run_dir))
    return results
