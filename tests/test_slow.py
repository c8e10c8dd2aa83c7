"""The real encoder on the seeds: the README's main job. Minutes on 2 cores; run with `pytest -m slow`."""

import json

import pytest

from ie.evaluation import evaluate_run
from ie.predictor import Predictor
from ie.training import train
from tests.conftest import compose_config


@pytest.mark.slow
def test_main_job_trains_and_extracts(tmp_path):
    results = train(compose_config("train", ["trainer.disable_tqdm=true", f"paths.output_dir={tmp_path}"]))
    assert results == evaluate_run(tmp_path) == json.loads((tmp_path / "metrics.json").read_text())
    # far above the chance level of a random model; loose enough for a one-document test split
    assert results["ner"]["strict"]["micro"]["f1"] > 0.4
    assert results["re"]["gold_entities"]["strict"]["micro"]["f1"] > 0.2
    prediction = Predictor.from_pretrained(tmp_path)("Denis Manturov met Emomali Rahmon in Dushanbe.")
    assert {"PER"} <= {e.label for e in prediction.entities}
