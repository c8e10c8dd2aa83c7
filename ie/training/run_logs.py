"""Training logs in the run folder: TensorBoard event files and one CSV row per epoch.

TensorBoard uses the Trainer's own ``TensorBoardCallback``, pointed at ``RUN/logs/tensorboard/<task>``
(transformers 5 has no ``logging_dir`` argument: by default the events would land under a
time-and-host-named folder of the checkpoint directory). The CSV is derived from the Trainer's
``log_history``; a small callback makes sure every epoch ends with a loss entry, so each epoch has
its own training loss even when it is shorter than ``logging_steps``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from transformers import TrainerCallback
from transformers.integrations import TensorBoardCallback

TENSORBOARD = "tensorboard"


def logs_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "logs"


def epochs_csv_path(run_dir: str | Path, task: str) -> Path:
    return logs_dir(run_dir) / f"{task}_epochs.csv"


class LogEveryEpoch(TrainerCallback):
    """Ask the Trainer to log at the end of every epoch (it skips the log if the step was just logged)."""

    def on_epoch_end(self, args, state, control, **kwargs):
        control.should_log = True
        return control


class RunTensorBoard(TensorBoardCallback):
    """The Trainer's TensorBoard integration, writing into a fixed folder of the run."""

    def __init__(self, log_dir: str | Path):
        super().__init__()
        self.logging_dir = str(log_dir)


def report_to(requested: Sequence[str]) -> list[str]:
    """What ``TrainingArguments.report_to`` gets: TensorBoard is added by :func:`callbacks` instead."""
    return [r for r in requested if r != TENSORBOARD]


def callbacks(requested: Sequence[str], run_dir: str | Path, task: str) -> list[TrainerCallback]:
    found: list[TrainerCallback] = [LogEveryEpoch()]
    if TENSORBOARD in requested:
        found.append(RunTensorBoard(logs_dir(run_dir) / TENSORBOARD / task))
    return found


def epoch_rows(history: Sequence[dict]) -> list[dict]:
    """One row per epoch from ``trainer.state.log_history``: the training loss averaged over the
    epoch's steps, the last learning rate and gradient norm, and the dev metrics (``eval_*``)."""
    rows: dict[int, dict] = {}
    last_step = 0
    loss_sum: dict[int, float] = {}
    loss_steps: dict[int, int] = {}
    for entry in history:
        if "epoch" not in entry or "train_runtime" in entry:  # the end-of-training summary
            continue
        epoch = max(1, math.ceil(entry["epoch"] - 1e-6))
        row = rows.setdefault(epoch, {"epoch": epoch})
        row["step"] = max(row.get("step", 0), entry.get("step", 0))
        if "loss" in entry:
            steps = max(1, entry["step"] - last_step)
            loss_sum[epoch] = loss_sum.get(epoch, 0.0) + entry["loss"] * steps
            loss_steps[epoch] = loss_steps.get(epoch, 0) + steps
            last_step = entry["step"]
        for key in ("learning_rate", "grad_norm"):
            if key in entry:
                row[key] = entry[key]
        row.update({k: v for k, v in entry.items() if k.startswith("eval_")})
    for epoch, row in rows.items():
        if epoch in loss_steps:
            row["train_loss"] = loss_sum[epoch] / loss_steps[epoch]
    return [rows[e] for e in sorted(rows)]


def write_epoch_csv(history: Sequence[dict], path: str | Path) -> Path:
    """The rows of :func:`epoch_rows` as CSV (columns: epoch, step, train_loss, then the rest)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = epoch_rows(history)
    columns = ["epoch", "step", "train_loss", "learning_rate", "grad_norm"]
    columns += sorted({k for row in rows for k in row} - set(columns))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path
