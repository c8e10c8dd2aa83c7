"""Run folders over their life: atomic checkpoints, a killed run resumed, a data/schema change caught,
sweeps with per-run folders (tiny model, seconds)."""

import json
import shutil
import subprocess
import sys

import pytest
from transformers import AutoTokenizer

import ie.training.fit
from ie.config import _packaged_encoder
from ie.data.schema import Schema
from ie.evaluation.scoring import evaluate_run
from ie.models.checkpoint import CheckpointError, read_checkpoint_info, save_checkpoint
from ie.models.modeling import build_ner_model
from ie.training.resume import last_trainer_checkpoint
from ie.training.train import train
from ie.training.window_trainer import WindowTrainer

from tests.conftest import ROOT, TINY, compose_config

# RE scores a sentence's pairs in one pass, so an epoch of the seeds is few steps: small batches, log each step
RUN = [
    "debug=fast",
    "trainer.disable_tqdm=true",
    "trainer.re.epochs=2",
    "trainer.re.batch_size=4",
    "trainer.logging_steps=1",
    "trainer.checkpoint_every_epochs=1",
]


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    return out, train(compose_config("train", RUN + [f"paths.output_dir={out}"]))


def test_a_killed_run_resumes_with_one_override_and_ends_as_if_never_stopped(reference, tmp_path, monkeypatch):
    class KilledDuringSecondEpochOfRE(WindowTrainer):
        def training_step(self, *args, **kwargs):
            if self.args.output_dir.endswith("re") and self.state.global_step > self.state.max_steps // 2:
                raise Killed()
            return super().training_step(*args, **kwargs)

    monkeypatch.setattr(ie.training.fit, "WindowTrainer", KilledDuringSecondEpochOfRE)
    with pytest.raises(Killed):
        train(compose_config("train", RUN + [f"paths.output_dir={tmp_path}"]))
    monkeypatch.undo()
    assert (tmp_path / "ner" / "ie.json").exists() and not (tmp_path / "re").exists()
    assert not (tmp_path / "metrics.json").exists()
    epoch_one = last_trainer_checkpoint(tmp_path / "trainer" / "re")
    assert epoch_one is not None
    max_steps = json.loads((epoch_one / "trainer_state.json").read_text())["max_steps"]
    (tmp_path / "trainer" / "re" / "checkpoint-999").mkdir()  # a save killed half way: skipped
    ner_weights = (tmp_path / "ner" / "model.safetensors").stat().st_mtime_ns

    resumed = train(compose_config("train", ["debug=fast", f"resume={tmp_path}"]))  # nothing else: its own config
    assert (tmp_path / "ner" / "model.safetensors").stat().st_mtime_ns == ner_weights  # kept, not retrained
    history = json.loads((tmp_path / "trainer" / "re" / "log_history.json").read_text())
    assert history[-1]["step"] == max_steps
    ref_dir, ref = reference
    assert resumed == {**ref, "run": str(tmp_path)}
    # every step is logged: compare the steps after the resume
    losses = lambda h: {e["step"]: e["loss"] for e in h if "loss" in e and e["step"] > max_steps // 2}  # noqa
    reference_history = json.loads((ref_dir / "trainer" / "re" / "log_history.json").read_text())
    # same second epoch, step by step (to float rounding: kernels may sum in another order across processes)
    assert losses(history) and losses(history) == pytest.approx(losses(reference_history), rel=1e-5)


def test_resume_refuses_what_it_cannot_continue(reference, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        train(compose_config("train", ["debug=fast", f"resume={tmp_path}"]))
    run = tmp_path / "run"
    shutil.copytree(reference[0], run)
    report = json.loads((run / "data_report.json").read_text())
    (run / "data_report.json").write_text(json.dumps({**report, "fingerprint": "0000"}))
    with pytest.raises(ValueError, match="the data changed since the run began"):
        train(compose_config("train", ["debug=fast", f"resume={run}"]))
    proc = subprocess.run(
        [sys.executable, "train.py", f"resume={run}", "seed=7"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode != 0 and "drop the other overrides ['seed=7']" in proc.stderr


def test_checkpoint_of_other_data_schema_fails_naming_the_difference(reference, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(reference[0], run)
    schema = json.loads((ROOT / "seeds" / "schema.json").read_text())
    schema["entities"].append({"label": "PRODUCT"})
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    config = (
        (run / "config.yaml").read_text().replace(str(ROOT / "seeds" / "schema.json"), str(tmp_path / "schema.json"))
    )
    (run / "config.yaml").write_text(config)
    with pytest.raises(CheckpointError, match="checkpoint schema differs from the data's .*entity labels.*PRODUCT"):
        evaluate_run(run)


def test_a_killed_save_never_leaves_a_complete_looking_checkpoint(schema, tmp_path, monkeypatch):
    model_cfg = compose_config("train", ["model=tiny", "paths.output_dir=/tmp/unused"]).model
    model, tokenizer = build_ner_model(model_cfg, schema.bio_tags), AutoTokenizer.from_pretrained(_packaged_encoder())
    dest = tmp_path / "ner"
    save_checkpoint(model, tokenizer, schema, dest, "ner", 64)
    before = (dest / "model.safetensors").read_bytes()

    def killed(self, path):
        raise Killed()

    monkeypatch.setattr(Schema, "save", killed)
    with pytest.raises(Killed):
        save_checkpoint(build_ner_model(model_cfg, schema.bio_tags), tokenizer, schema, dest, "ner", 128)
    monkeypatch.undo()
    assert (dest / "model.safetensors").read_bytes() == before and read_checkpoint_info(dest, "ner").max_length == 64
    partial = [p for p in tmp_path.iterdir() if p.name.startswith(".ner.partial")]
    assert partial and not (partial[0] / "ie.json").exists()
    with pytest.raises(CheckpointError, match="no ie.json"):
        read_checkpoint_info(partial[0], "ner")
    save_checkpoint(model, tokenizer, schema, dest, "ner", 32)  # the next save clears the leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ner"]


def test_a_parallel_sweep_writes_one_comparable_run_folder_per_job(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "train.py",
            "-m",
            "hydra/launcher=parallel",
            "debug=fast",
            "task=ner",
            "trainer.disable_tqdm=true",
            "seed=1,2",
            f"paths.models_dir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = (tmp_path / "multirun").iterdir()
    runs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in runs] == ["0", "1"]
    seeds = [
        int(next(line for line in (p / "config.yaml").read_text().splitlines() if line.startswith("seed:")).split()[1])
        for p in runs
    ]
    assert seeds == [1, 2]
    metrics = [json.loads((p / "metrics.json").read_text()) for p in runs]
    assert metrics[0]["ner"] != metrics[1]["ner"]  # different seeds, different tiny models
    out = tmp_path / "eval.json"
    # training scores in fp32 on any machine; evaluate.py's default (auto) may run bf16, so fp32 reproduces it
    proc = subprocess.run(
        [
            sys.executable,
            "evaluate.py",
            f"run={runs[1]}",
            f"output={out}",
            "precision=fp32",
            f"paths.models_dir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(out.read_text()) == metrics[1]


def test_re_loss_weights_lift_the_few_relations_over_the_many_negatives():
    import torch

    from ie.errors import ConfigError
    from ie.training.fit import loss_weights

    labels = [[0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 2]]  # 8 no_relation, 2 and 1 of two relations, none of a third
    assert loss_weights(labels, 4, "none") is None
    torch.testing.assert_close(loss_weights(labels, 4, "binary_balanced"), torch.tensor([3 / 8, 1.0, 1.0, 1.0]))
    torch.testing.assert_close(loss_weights(labels, 4, "balanced"), torch.tensor([11 / 32, 11 / 8, 11 / 4, 1.0]))
    with pytest.raises(ConfigError, match="trainer.re.loss_weights"):
        loss_weights(labels, 4, "focal")


def test_a_run_trains_re_with_loss_weights(tmp_path):
    results = train(
        compose_config(
            "train",
            TINY
            + [
                "task=re",
                "trainer.re.loss_weights=binary_balanced",
                f"paths.output_dir={tmp_path}",
                "trainer.report_to=[]",
            ],
        )
    )
    assert results["re"]["gold_entities"]["strict"]["micro"]["support"] > 0


def test_re_trains_with_the_loss_over_each_pairs_admitted_classes(tmp_path):
    results = train(
        compose_config("train", TINY + ["task=re", "trainer.re.loss_classes=schema", f"paths.output_dir={tmp_path}"])
    )
    assert results["re"]["gold_entities"]["strict"]["micro"]["support"] > 0
    assert (tmp_path / "re" / "model.safetensors").exists()


def test_an_unknown_loss_classes_value_fails_before_training(tmp_path):
    from ie.errors import ConfigError

    with pytest.raises(ConfigError, match="trainer.re.loss_classes: expected one of all, schema, got 'types'"):
        train(
            compose_config("train", TINY + ["task=re", "trainer.re.loss_classes=types", f"paths.output_dir={tmp_path}"])
        )
    assert not (tmp_path / "re").exists()


def test_trainer_checkpoints_are_sparse_unless_a_dev_split_selects_the_best_epoch():
    from omegaconf import OmegaConf

    from ie.errors import ConfigError
    from ie.training.fit import checkpoint_schedule

    tr = OmegaConf.create({"checkpoint_every_epochs": 5, "select_best": True})
    assert checkpoint_schedule(tr, False, 112, 8) == {"save_strategy": "steps", "save_steps": 5 * 14}
    assert checkpoint_schedule(tr, False, 3, 8) == {"save_strategy": "steps", "save_steps": 5}  # one short epoch
    assert checkpoint_schedule(tr, True, 112, 8) == {"save_strategy": "epoch"}  # the best epoch needs its save
    tr.checkpoint_every_epochs = 0
    with pytest.raises(ConfigError, match="checkpoint_every_epochs must be at least 1"):
        checkpoint_schedule(tr, False, 112, 8)
