"""A run folder's data and its resumption: what happens before any model trains.

``prepare_data`` validates the corpus with the run's splits (errors stop the run naming file, line
and reason; warnings are logged), counts what the encoder windows would lose per split and writes
both to ``RUN/data_report.json``. ``resumed_config`` turns ``resume=RUN`` into RUN's own config.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from transformers import AutoTokenizer

from ie import distributed
from ie.config import TrainConfig
from ie.data_report import data_report, format_loss, total_lost
from ie.dataset import IEData, build_datasets, load_corpus
from ie.schema import Schema
from ie.validate import ValidationError, overlap_problems

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
    return build_datasets(records, schema, splits)


def resumed_config(cfg: DictConfig) -> DictConfig:
    """The saved config of the run named by ``cfg.resume`` (resume set, output folder that run)."""
    run_dir = Path(cfg.resume)
    saved = run_dir / "config.yaml"
    if not saved.exists():
        raise FileNotFoundError(f"resume={cfg.resume}: not a run folder (no config.yaml)")
    resumed = OmegaConf.merge(OmegaConf.structured(TrainConfig), OmegaConf.load(saved))
    resumed.resume = str(run_dir)
    resumed.paths.output_dir = str(run_dir)
    return resumed


def _check_same_data(run_dir: Path, fingerprint: str) -> None:
    report = run_dir / "data_report.json"
    if not report.exists():
        raise FileNotFoundError(f"resume={run_dir}: no data_report.json; the run never got past its data check")
    before = json.loads(report.read_text(encoding="utf-8"))["fingerprint"]
    if before != fingerprint:
        raise ValueError(f"resume={run_dir}: the data changed since the run began (fingerprint {before} -> "
                         f"{fingerprint}); start a new run")


def prepare_data(cfg: DictConfig, run_dir: Path) -> IEData:
    """Validate and load the data, log warnings and per-split losses, write ``data_report.json``."""
    warnings: list = []
    mapped: dict = {}
    data = load_data(cfg, warnings, mapped)
    for warning in warnings:
        log.warning("%s", warning)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.name_or_path)
    report = data_report(data, tokenizer, cfg.task.names, cfg.trainer.ner.max_length, cfg.trainer.re.max_length,
                         warnings)
    report.update(mapped)  # label_map: per source label, its target and what was kept and dropped
    for split, entry in report["splits"].items():
        lost = any(n for task in entry["lost"].values() for n in task.values())
        log.log(logging.WARNING if lost else logging.INFO, "%s", format_loss(split, entry))
    if total_lost(report):
        log.warning("the configured windows lose data (see above and data_report.json): raise "
                    "trainer.ner.max_length / trainer.re.max_length to keep it")
    if cfg.resume:
        _check_same_data(run_dir, data.fingerprint)
    elif distributed.is_main():
        (run_dir / "data_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return data
