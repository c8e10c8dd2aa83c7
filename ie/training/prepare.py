"""A run's data, before any model trains: validated with the run's splits (errors stop the run naming
file, line and reason; warnings are logged), counted per split with what the encoder windows would
lose, and written to ``RUN/data_report.json``."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig

from ie import distributed
from ie.data.augment import mention_replacement
from ie.data.corpus import load_corpus
from ie.data.dataset import IEData, build_datasets
from ie.data.problems import ValidationError
from ie.data.records import fingerprint
from ie.data.schema import Schema
from ie.data.validate import overlap_problems
from ie.errors import ConfigError
from ie.models.modeling import load_tokenizer
from ie.training.data_report import data_report, format_loss, total_lost
from ie.training.resume import REPORT_FILE, check_same_data

log = logging.getLogger(__name__)


def load_data(cfg: DictConfig, warnings: list | None = None, label_report: dict | None = None) -> IEData:
    """Validated datasets of the configured splits: every error of every file raises together
    (:class:`ValidationError`), warnings are appended to ``warnings``; with ``data.label_map`` what
    the map kept and dropped goes to ``label_report["label_map"]``."""
    schema = Schema.load(cfg.data.schema)
    warnings = [] if warnings is None else warnings
    records, splits = load_corpus(cfg.data, schema, warnings, label_report)
    contents = {doc_id: "\n".join(" ".join(r.words) for r in recs) for doc_id, recs in records.items()}
    problems = overlap_problems(contents, splits)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ValidationError(errors)
    warnings += problems
    annotated = fingerprint(records, schema)
    # what only training sees: augmented copies, another corpus mixed in; with a mix, this run's own training
    # split may be empty (data.splits.train=[]): trained on the other corpus alone, tested on this one
    if "train" in splits or cfg.get("mix"):
        train, extra = splits.get("train", []), {}
        if cfg.data.mention_replacement:
            extra.update(mention_replacement(records, train, cfg.data.mention_replacement, cfg.seed))
        if cfg.get("mix"):
            extra.update(_mixed(cfg, schema, records, train, warnings))
        records, splits = {**records, **extra}, {**splits, "train": train + list(extra)}
    # the fingerprint names the annotated data, as a model card re-reads it; what training adds to it is
    # config (data.mention_replacement, mix), which runs and pre-training cache keys record beside it
    return build_datasets(records, schema, splits, annotated)


def _mixed(cfg: DictConfig, schema: Schema, records: dict, train: list[str], warnings: list) -> dict:
    """Joint training's extra training documents: the other corpus's split (ids prefixed ``mix:``) and
    ``mix.weight - 1`` more copies of each training document of this run."""
    mix = cfg.mix
    if Path(mix.data.schema).resolve() != Path(cfg.data.schema).resolve():
        raise ConfigError(
            f"mix.data.schema={mix.data.schema}: the mixed corpus must be read in this run's schema "
            f"({cfg.data.schema}); mix=none trains on this run's data alone, or map the labels with "
            f"mix.data.label_map"
        )
    other, other_splits = load_corpus(mix.data, schema, warnings)
    if mix.split not in other_splits:
        raise ConfigError(f"mix.split: '{mix.split}' is not one of {list(other_splits)}")
    out = {
        f"mix:{doc_id}": [replace(r, doc_id=f"mix:{doc_id}") for r in other[doc_id]]
        for doc_id in other_splits[mix.split]
    }
    for k in range(2, mix.weight + 1):
        out.update(
            {f"{doc_id}~w{k}": [replace(r, doc_id=f"{doc_id}~w{k}") for r in records[doc_id]] for doc_id in train}
        )
    return out


def prepare_data(cfg: DictConfig, run_dir: Path) -> IEData:
    """Validate and load the data, log warnings and per-split losses, write ``data_report.json``."""
    warnings: list = []
    mapped: dict = {}
    data = load_data(cfg, warnings, mapped)
    for warning in warnings:
        log.warning("%s", warning)
    tokenizer = load_tokenizer(cfg.model)
    report = data_report(
        data, tokenizer, cfg.task.names, cfg.trainer.ner.max_length, cfg.trainer.re.max_length, warnings
    )
    report.update(mapped)  # label_map: per source label, its target and what was kept and dropped
    for split, entry in report["splits"].items():
        lost = any(n for task in entry["lost"].values() for n in task.values())
        log.log(logging.WARNING if lost else logging.INFO, "%s", format_loss(split, entry))
    if total_lost(report):
        log.warning(
            "the configured windows lose data (see above and data_report.json): raise "
            "trainer.ner.max_length / trainer.re.max_length to keep it"
        )
    if cfg.resume:
        check_same_data(run_dir, data.fingerprint)
    elif distributed.is_main():
        (run_dir / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return data
