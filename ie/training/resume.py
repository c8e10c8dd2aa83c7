"""Continuing a killed run (``resume=RUN``): RUN's own config, the same data, and the last Trainer
checkpoint that was written completely."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ie.config import TrainConfig
from ie.runs import CONFIG_FILE, RunError, RunNotFoundError

log = logging.getLogger(__name__)

REPORT_FILE = "data_report.json"


def resumed_config(cfg: DictConfig) -> DictConfig:
    """The saved config of the run named by ``cfg.resume`` (resume set, output folder that run)."""
    run_dir = Path(cfg.resume)
    saved = run_dir / CONFIG_FILE
    if not saved.exists():
        raise RunNotFoundError(f"resume={cfg.resume}: not a run folder (no {CONFIG_FILE})")
    resumed = OmegaConf.merge(OmegaConf.structured(TrainConfig), OmegaConf.load(saved))
    resumed.resume = str(run_dir)
    resumed.paths.output_dir = str(run_dir)
    return resumed


def check_same_data(run_dir: Path, fingerprint: str) -> None:
    report = run_dir / REPORT_FILE
    if not report.exists():
        raise RunError(f"resume={run_dir}: no {REPORT_FILE}; the run never got past its data check: start a new run")
    before = json.loads(report.read_text(encoding="utf-8"))["fingerprint"]
    if before != fingerprint:
        raise RunError(
            f"resume={run_dir}: the data changed since the run began (fingerprint {before} -> "
            f"{fingerprint}); start a new run"
        )


def last_trainer_checkpoint(folder: str | Path) -> Path | None:
    """The newest ``checkpoint-N`` under a Trainer output folder that was written completely.

    The Trainer writes ``trainer_state.json`` last, so a folder without it is a save that was killed
    half way; it is skipped (and named in the log) rather than resumed from.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    found = sorted(
        (int(m.group(1)), p)
        for p in folder.iterdir()
        if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name))
    )
    for _, path in reversed(found):
        if (path / "trainer_state.json").exists():
            return path
        log.warning("%s: incomplete (no trainer_state.json), not resumed from", path)
    return None
