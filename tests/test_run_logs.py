"""Training logs in the run folder: TensorBoard event files and a CSV of metrics per epoch."""

import csv
import json

import pytest

from ie.training.run_logs import epoch_rows


def test_training_writes_tensorboard_events_and_an_epoch_csv(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for task in ("ner", "re"):
        events = list((run_dir / "logs" / "tensorboard" / task).glob("events.out.tfevents.*"))
        assert events, f"no TensorBoard events for {task}"
        accumulator = EventAccumulator(str(events[0].parent))
        accumulator.Reload()
        assert "train/loss" in accumulator.Tags()["scalars"]
        history = json.loads((run_dir / "trainer" / task / "log_history.json").read_text())
        with open(run_dir / "logs" / f"{task}_epochs.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [row["epoch"] for row in rows] == ["1"]  # debug=fast trains one epoch
        logged = [e for e in history if "loss" in e]
        # the epoch ends with a loss entry even when it is shorter than logging_steps (LogEveryEpoch)
        assert logged and logged[-1]["step"] == history[-1]["step"] and rows[0]["step"] == str(history[-1]["step"])
        assert min(e["loss"] for e in logged) <= float(rows[0]["train_loss"]) <= max(e["loss"] for e in logged)
    assert not list(run_dir.glob("trainer/*/runs"))  # not in the Trainer's default folder


def test_epoch_rows_average_the_loss_over_each_epochs_steps_and_keep_dev_metrics():
    history = [
        {"loss": 4.0, "learning_rate": 1e-4, "grad_norm": 2.0, "epoch": 0.5, "step": 10},
        {"loss": 2.0, "learning_rate": 9e-5, "grad_norm": 1.0, "epoch": 1.0, "step": 15},
        {"eval_f1": 0.25, "eval_loss": 1.5, "epoch": 1.0, "step": 15},
        {"loss": 1.0, "learning_rate": 5e-5, "epoch": 2.0, "step": 30},
        {"eval_f1": 0.5, "eval_loss": 1.0, "epoch": 2.0, "step": 30},
        {"train_runtime": 3.0, "train_loss": 2.0, "epoch": 2.0, "step": 30},
    ]
    rows = epoch_rows(history)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[0]["train_loss"] == pytest.approx((4.0 * 10 + 2.0 * 5) / 15) and rows[1]["train_loss"] == 1.0
    assert rows[0]["eval_f1"] == 0.25 and rows[1]["eval_loss"] == 1.0 and rows[0]["learning_rate"] == 9e-5
