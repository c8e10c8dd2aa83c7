"""A search trial scored by nested cross-validation: every inner fold trained, the outer test article never."""

import json

import pytest
import yaml

from ie.errors import ConfigError

from tests.conftest import SEEDS, TINY, compose_config

OUTER_TEST = "004_8167059eeef70516"  # outer fold 4 of the five seed articles


def test_a_trial_trains_every_inner_fold_pools_their_counts_and_never_sees_the_outer_test_article(tmp_path):
    from ie.training.inner_cv import pooled_score, train_inner_folds
    from ie.training.train import train

    cfg = compose_config(
        "train",
        TINY
        + ["hparams_search=seeds_optuna", "data.fold=4", "data.mention_replacement=0", f"paths.output_dir={tmp_path}"],
    )
    assert cfg.inner_cv and cfg.task.names == ["ner"]
    seen, results = [], []

    def recording_train(fold_cfg):
        seen.append(fold_cfg.data.inner_fold)
        results.append(train(fold_cfg))
        return results[-1]

    score = train_inner_folds(cfg, recording_train)
    assert seen == [0, 1, 2, 3]
    tested = []
    for inner in range(4):
        run = tmp_path / f"inner_{inner}"
        saved = yaml.safe_load((run / "config.yaml").read_text())
        assert saved["data"]["inner_fold"] == inner and not saved["inner_cv"]
        with (run / "predictions_test.jsonl").open() as predictions:
            tested += json.loads(predictions.readline())["header"]["documents"]
    assert sorted(tested) == sorted(p.stem for p in SEEDS.glob("*.txt") if p.stem != OUTER_TEST)
    counts = [r["ner"]["strict"]["micro"] for r in results]
    assert score["tp"] == sum(c["tp"] for c in counts) and score["fn"] == sum(c["fn"] for c in counts)
    assert score == {**pooled_score(results), "folds": score["folds"]} and len(score["folds"]) == 4
    assert yaml.safe_load((tmp_path / "inner_cv.yaml").read_text())["f1"] == pytest.approx(score["f1"])


def test_inner_cv_needs_document_folds_and_no_fixed_inner_fold(tmp_path):
    from ie.training.inner_cv import train_inner_folds

    no_folds = compose_config("train", TINY + ["inner_cv=true", f"paths.output_dir={tmp_path}"])
    with pytest.raises(ConfigError, match="inner_cv=true: needs data.folds"):
        train_inner_folds(no_folds, lambda cfg: {})
    fixed = compose_config(
        "train", TINY + ["hparams_search=seeds_optuna", "data.inner_fold=1", f"paths.output_dir={tmp_path}"]
    )
    with pytest.raises(ConfigError, match="drop data.inner_fold=1"):
        train_inner_folds(fixed, lambda cfg: {})
