"""The learning curve: experiment=learning_curve trains on 1..4 articles of a fold, and evaluate.py's
learning_curve turns such runs into F1 against annotated training entities (table, trend, PNG)."""

import json

import pytest

from ie.errors import ConfigError
from ie.evaluation.learning_curve import learning_curve, trend, write_learning_curve
from ie.training.train import train

from tests.conftest import TINY, compose_config


@pytest.fixture(scope="module")
def curve_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("curve")
    for k in (1, 2):
        overrides = [
            *TINY,
            "experiment=learning_curve",
            "data.fold=4",
            f"data.train_units={k}",
            "task=ner",
            f"paths.output_dir={root / str(k)}",
        ]
        train(compose_config("train", overrides))
    return root


def test_a_curve_of_the_seeds_runs(curve_runs, tmp_path):
    result = learning_curve([curve_runs])
    points = result["corpora"]["seeds"]["points"]
    assert list(points) == ["train_units=1", "train_units=2"]
    one, two = points.values()
    assert 0 < one["training_entities"]["mean"] < two["training_entities"]["mean"] < 213
    assert one["runs"] == one["replicates"] == 1 and 0 <= one["ner.strict"]["mean"] <= 1
    assert "re.end_to_end.strict" not in one  # NER-only runs: no relation point
    written = write_learning_curve(result, tmp_path / "out")
    assert {p.name for p in written} == {"learning_curve.json", "learning_curve.md", "learning_curve.png"}
    assert json.loads((tmp_path / "out" / "learning_curve.json").read_text())["corpora"]["seeds"]["points"]
    assert "| seeds | train_units=2 |" in (tmp_path / "out" / "learning_curve.md").read_text()


def test_the_trend_is_the_gain_per_doubling():
    points = [
        {"training_entities": {"mean": n}, "ner.strict": {"mean": f1}} for n, f1 in ((40, 0.3), (80, 0.4), (160, 0.5))
    ]
    fit = trend(points, "ner.strict")
    assert fit["gain_per_doubling"] == pytest.approx(0.1)
    assert (fit["at_2x_largest"], fit["at_4x_largest"]) == pytest.approx((0.6, 0.7))


def test_one_size_is_no_curve(curve_runs):
    with pytest.raises(ConfigError, match="every corpus has one training size"):
        learning_curve([curve_runs / "1"])


def test_an_entry_read_on_another_split_is_a_curve_of_its_own(curve_runs):
    plain = learning_curve([curve_runs])["corpora"]["seeds"]["points"]
    result = learning_curve([f"{curve_runs}@test"], split="seeds")  # as a corpus's runs read on the seed articles
    assert list(result["corpora"]) == ["seeds@test"]
    assert result["corpora"]["seeds@test"]["points"] == plain
