"""The real encoder on the seeds: the README's main job. Minutes on 2 cores; run with `pytest -m slow`."""

import json

import pytest

from ie.evaluation.scoring import evaluate_run
from ie.inference.batch import run_predictions
from ie.inference.inputs import InputDocument
from ie.inference.predictor import Predictor
from ie.training.train import train

from tests.conftest import SEEDS, TEST_DOC, compose_config


@pytest.mark.slow
def test_main_job_trains_and_extracts(tmp_path):
    results = train(compose_config("train", ["trainer.disable_tqdm=true", f"paths.output_dir={tmp_path}"]))
    assert results == evaluate_run(tmp_path) == json.loads((tmp_path / "metrics.json").read_text())
    # far above the chance level of a random model; loose enough for a one-document test split
    assert results["ner"]["strict"]["micro"]["f1"] > 0.4
    assert results["re"]["gold_entities"]["strict"]["micro"]["f1"] > 0.2
    predictor = Predictor.from_pretrained(tmp_path)
    prediction = predictor("Denis Manturov met Emomali Rahmon in Dushanbe.")
    assert {"PER"} <= {e.label for e in prediction.entities}
    # order=uncertainty on a case whose answer is known: the test article, never seen, ranks above a training one
    docs = [
        InputDocument(name, (SEEDS / f"{name}.txt").read_text(encoding="utf-8"), name)
        for name in ("000_cfc1bba1020dc4b0", TEST_DOC)
    ]
    run_predictions(predictor, docs, str(tmp_path / "to_correct"), "brat", order="uncertainty")
    ranking = (tmp_path / "to_correct" / "ORDER.tsv").read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[1] for line in ranking[1:]] == [TEST_DOC, "000_cfc1bba1020dc4b0"]


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path):
    """DDP over gloo: the same config (global batch) on 1 and 2 processes, real encoder, 10 epochs each."""
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    # one pre-training cache for both: the single process builds it, torchrun's processes reuse it (they
    # refuse to build it each on their own)
    overrides = [
        "trainer.ner.epochs=10",
        "trainer.re.epochs=10",
        "trainer.disable_tqdm=true",
        f"pretrain.cache_dir={tmp_path / 'pretrained'}",
    ]
    launchers = {
        1: [sys.executable, "train.py"],
        2: [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "train.py"],
    }
    metrics, seconds = {}, {}
    for n, launcher in launchers.items():
        start = time.time()
        proc = subprocess.run(
            launcher + overrides + [f"paths.models_dir={tmp_path / str(n)}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        seconds[n] = time.time() - start
        assert proc.returncode == 0, proc.stderr[-3000:]
        (run,) = (tmp_path / str(n) / "seeds").iterdir()
        metrics[n] = json.loads((run / "metrics.json").read_text())
    f1 = {
        n: (m["ner"]["strict"]["micro"]["f1"], m["re"]["gold_entities"]["strict"]["micro"]["f1"])
        for n, m in metrics.items()
    }
    print(f"micro F1 (NER, RE gold entities): {f1}; seconds: {seconds}")
    assert f1[1][0] > 0.25 and f1[2][0] > 0.25
    # one test article (50 entities, 28 relations): one entity or relation moves F1 by about 0.02-0.04
    assert abs(f1[1][0] - f1[2][0]) <= 0.1 and abs(f1[1][1] - f1[2][1]) <= 0.1
