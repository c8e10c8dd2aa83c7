import pytest
from omegaconf import OmegaConf

from ie.data.corpus import load_corpus
from ie.data.folds import by_sentence, fold_splits
from tests.conftest import ROOT, compose_config

DOCS = ["d3", "d1", "d5", "d2", "d4"]


def test_leave_one_out_tests_every_document_once():
    folds = [fold_splits(DOCS, 5, k) for k in range(5)]
    assert [f["test"] for f in folds] == [["d1"], ["d2"], ["d3"], ["d4"], ["d5"]]
    for f in folds:
        assert sorted(f["train"] + f["test"]) == sorted(DOCS) and not set(f["train"]) & set(f["test"])


def test_k_folds_are_balanced_and_disjoint():
    units = [f"u{i:02d}" for i in range(11)]
    tests = [fold_splits(units, 3, k)["test"] for k in range(3)]
    assert sorted(sum(tests, [])) == units and [len(t) for t in tests] == [4, 4, 3]


@pytest.mark.parametrize("folds, fold, message", [(1, 0, "at least 2"), (6, 0, "more folds than units"),
                                                  (5, 5, "data.fold=5")])
def test_bad_fold_settings_are_reported(folds, fold, message):
    with pytest.raises(ValueError, match=message):
        fold_splits(DOCS, folds, fold)


def test_sentence_folds_split_inside_documents():
    class R:
        def __init__(self, i):
            self.sent_index = i
    units = by_sentence({"train": [R(0), R(1)], "test": [R(0)]})
    assert list(units) == ["train#0", "train#1", "test#0"]


def test_seeds_cv_experiment_takes_its_fold_from_the_config(schema):
    cfg = compose_config("train", ["experiment=seeds_cv", "data.fold=2", "paths.output_dir=/tmp/x"])
    assert cfg.data.folds == 5
    sweep = OmegaConf.load(ROOT / "configs" / "experiment" / "seeds_cv.yaml").hydra.sweeper.params
    assert sweep["data.fold"] == f"range({cfg.data.folds})"  # -m sweeps every fold
    records, splits = load_corpus(cfg.data, schema)
    docs = sorted(records)
    assert splits == {"train": [d for d in docs if d != docs[2]], "test": [docs[2]]}
