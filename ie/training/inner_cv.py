"""One hyperparameter-search trial scored by nested cross-validation (``inner_cv=true``): every inner
fold of the outer fold ``data.fold`` is trained in its own sub-folder and the trial's score pools their
test counts. A sweeper (``hparams_search=seeds_optuna``) then ranks settings without ever seeing the
outer test article, which a single inner fold (one article, ~40 entities) is too small to do alone."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from ie.atomic import write_text
from ie.data.corpus import load_corpus
from ie.data.schema import Schema
from ie.errors import ConfigError
from ie.evaluation.metrics import prf
from ie.training.train import objective

log = logging.getLogger(__name__)


def inner_fold_count(cfg: DictConfig) -> int:
    """How many inner folds the outer fold has: one per training document (leave one out)."""
    if not cfg.data.get("folds", 0):
        raise ConfigError(
            "inner_cv=true: needs data.folds (the outer cross-validation whose training "
            "documents the inner folds split)"
        )
    if cfg.data.get("fold_by", "document") != "document":
        raise ConfigError(
            "inner_cv=true: needs data.fold_by=document (leave-one-out over sentences would "
            "train one model per sentence)"
        )
    outer = copy.deepcopy(cfg.data)
    with open_dict(outer):
        outer.inner_fold = None
    _, splits = load_corpus(outer, Schema.load(cfg.data.schema))
    return len(splits["train"])


def pooled_score(results: list[dict]) -> dict:
    """Strict micro P/R/F1 over the inner folds' summed counts of what train.py optimises for one run
    (:func:`ie.training.train.objective`)."""
    counts = [objective(r) for r in results]
    return prf(sum(c["tp"] for c in counts), sum(c["fp"] for c in counts), sum(c["fn"] for c in counts))


def train_inner_folds(cfg: DictConfig, train: Callable[[DictConfig], dict]) -> dict:
    """Train every inner fold of ``data.fold`` into ``<run>/inner_<k>`` and return the pooled score
    with each fold's F1 (``folds``); the sub-folders are ordinary runs that evaluate.py can compare."""
    if cfg.data.get("inner_fold") is not None:
        raise ConfigError(f"inner_cv=true trains every inner fold itself; drop data.inner_fold={cfg.data.inner_fold}")
    run_dir = Path(cfg.paths.output_dir)
    results = []
    count = inner_fold_count(cfg)
    for inner in range(count):
        fold_cfg = copy.deepcopy(cfg)
        with open_dict(fold_cfg):
            fold_cfg.inner_cv = False
            fold_cfg.data.inner_fold = inner
            fold_cfg.paths.output_dir = str(run_dir / f"inner_{inner}")
        log.info("inner fold %d of %d (outer fold %d)", inner + 1, count, cfg.data.fold)
        results.append(train(fold_cfg))
    score = pooled_score(results)
    score["folds"] = [pooled_score([r])["f1"] for r in results]
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "inner_cv.yaml", OmegaConf.to_yaml(OmegaConf.create(score)))
    return score
