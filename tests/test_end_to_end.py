"""Train -> evaluate -> Predictor with a tiny random-init model on the real seeds (seconds); the run is the
session's ``run_dir`` fixture (tests/conftest.py)."""

import json
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from ie.evaluation.scoring import evaluate_run
from ie.inference.predictor import Entity, Prediction, Predictor
from ie.models.checkpoint import CheckpointError
from ie.training.train import train

from tests.conftest import ROOT, TINY, compose_config, rounded


def test_run_folder_holds_checkpoints_config_and_metrics(run_dir):
    for task in ("ner", "re"):
        files = {p.name for p in (run_dir / task).iterdir()}
        assert {"model.safetensors", "config.json", "tokenizer.json", "schema.json", "ie.json"} <= files
        assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    assert OmegaConf.load(run_dir / "config.yaml").data.name == "seeds"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["re"]) >= {"gold_entities", "end_to_end"}
    assert set(metrics["re"]["end_to_end"]) == {"strict", "boundaries"}
    assert set(metrics["ner"]) == {"strict", "default"}
    assert set(metrics["ner"]["strict"]["per_type"]) == {"PER", "ORG", "LOC", "EVENT", "DATE", "ROLE", "AGREEMENT"}
    assert set(metrics["errors"]) == {"entities", "relations"}
    for name in ("metrics.md", "metrics_confusion_entities.png", "predictions_test.jsonl"):
        assert (run_dir / name).stat().st_size > 0
    assert not list(run_dir.glob(".*partial*"))


def test_evaluate_reproduces_the_training_run_numbers(run_dir):
    assert evaluate_run(run_dir, split="test") == json.loads((run_dir / "metrics.json").read_text())


def test_evaluate_cli_prints_and_writes_json_markdown_and_plots(run_dir, tmp_path):
    out = tmp_path / "eval.json"
    proc = subprocess.run(
        [
            sys.executable,
            "evaluate.py",
            f"run={run_dir}",
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
    assert "NER (seqeval: strict IOB2 | default conlleval)" in proc.stdout and "RE, end to end" in proc.stdout
    assert json.loads(out.read_text()) == json.loads((run_dir / "metrics.json").read_text())
    md = (tmp_path / "eval.md").read_text()
    assert "## Entity errors" in md and "![eval_confusion_entities.png](eval_confusion_entities.png)" in md
    assert (tmp_path / "eval_confusion_relations_end_to_end.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_cli_compares_runs(run_dir, tmp_path):
    other = tmp_path / "other"
    train(compose_config("train", TINY + ["task=ner", "trainer.ner.learning_rate=1e-3", f"paths.output_dir={other}"]))
    out = tmp_path / "cmp"
    proc = subprocess.run(
        [
            sys.executable,
            "evaluate.py",
            f"compare=[{run_dir},{other}]",
            f"output_dir={out}",
            "bootstrap_samples=200",
            f"paths.models_dir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "compare.json").read_text())
    base, second = result["groups"].values()
    assert base["metrics"]["ner.strict"]["f1"]["values"] == [
        json.loads((run_dir / "metrics.json").read_text())["ner"]["strict"]["micro"]["f1"]
    ]
    assert "re.end_to_end.strict" not in second["metrics"]  # the second run trained NER only
    assert "bootstrap" in second["against_baseline"]["ner.strict"] and "ner.strict" in proc.stdout


def test_evaluate_cli_needs_a_run_or_a_comparison(tmp_path):
    proc = subprocess.run(
        [sys.executable, "evaluate.py", f"paths.models_dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "exactly one of run=" in proc.stderr


@pytest.mark.parametrize(
    "run, backend",
    [
        (run, backend)
        for run in ("run_dir", "span_run_dir", "shared_run_dir")
        for backend in ("lean", "transformers", "onnx")
    ],
)  # token and span NER heads, and one encoder for NER and RE
def test_predictor_contract_normal_empty_and_long_text(run, backend, request):
    fixture = f"onnx_{run}" if backend == "onnx" else run  # the run with its export (python -m ie.export)
    predictor = Predictor.from_pretrained(request.getfixturevalue(fixture), backend=backend)
    text = "President of the Republic of Tajikistan Emomali Rahmon met with Denis Manturov in Dushanbe."
    result = predictor(text)
    assert isinstance(result, Prediction) and result.text == text
    for ent in result.entities:
        assert isinstance(ent, Entity) and text[ent.start : ent.end] == ent.text and 0 < ent.score <= 1
    for rel in result.relations:
        assert rel.head in result.entities and rel.tail in result.entities
    json.loads(result.to_json())
    assert predictor("") == Prediction("") and predictor("  \n\t ").entities == []
    # one 600-word "sentence" (no punctuation): ten times the 64-subword window of the debug config
    long_text = " ".join(["cooperation"] * 600) + " Khujand"
    long_result = predictor(long_text)
    for ent in long_result.entities:
        assert long_text[ent.start : ent.end] == ent.text
    # batched with other texts: the same entities; scores to 5 places (another batch shape moves the last bits)
    assert rounded(predictor.predict([text, "", text], batch_size=2)[2:]) == rounded([result])


def test_predictor_rejects_bad_input_clearly(run_dir):
    predictor = Predictor.from_pretrained(run_dir)
    with pytest.raises(TypeError, match="texts\\[0\\] is NoneType"):
        predictor(None)
    with pytest.raises(TypeError, match="list of strings"):
        predictor.predict("a string, not a list")
    with pytest.raises(ValueError, match="batch_size"):
        predictor.predict(["x"], batch_size=0)


def test_same_seed_same_config_same_metrics(run_dir, tmp_path):
    again = train(compose_config("train", TINY + [f"paths.output_dir={tmp_path}"]))
    assert again == {**json.loads((run_dir / "metrics.json").read_text()), "run": str(tmp_path)}


def test_single_task_runs(tmp_path):
    ner_only = train(
        compose_config("train", TINY + ["task=ner", "data=seeds_dev", f"paths.output_dir={tmp_path / 'ner'}"])
    )
    assert "ner" in ner_only and "re" not in ner_only
    re_only = train(compose_config("train", TINY + ["task=re", f"paths.output_dir={tmp_path / 're'}"]))
    assert "ner" not in re_only and "end_to_end" not in re_only["re"]
    with pytest.raises(RuntimeError, match="without an NER checkpoint"):
        Predictor.from_pretrained(tmp_path / "re")("Denis Manturov")


def test_mismatched_checkpoints_fail_loading_with_the_difference(run_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    schema = json.loads((broken / "re" / "schema.json").read_text())
    schema["relations"][0]["tails"] = ["ORG"]
    (broken / "re" / "schema.json").write_text(json.dumps(schema))
    with pytest.raises(CheckpointError, match="different schemas: relation 'works_for'"):
        Predictor.from_pretrained(broken)
    (broken / "ner" / "model.safetensors").rename(broken / "ner" / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pickle weights"):
        Predictor.from_pretrained(broken)


def test_an_re_checkpoint_of_the_one_pass_per_pair_era_is_refused(run_dir, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    info = json.loads((old / "re" / "ie.json").read_text())
    del info["encoding"]  # what RE checkpoints written before all pairs shared one pass look like
    (old / "re" / "ie.json").write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="retrain the RE model"):
        Predictor.from_pretrained(old)
