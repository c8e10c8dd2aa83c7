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


@pytest.mark.parametrize(
    "folds, fold, message", [(1, 0, "at least 2"), (6, 0, "more folds than units"), (5, 5, "data.fold=5")]
)
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


def test_inner_folds_leave_one_out_inside_an_outer_fold_and_never_touch_its_test_fold(schema):
    from ie.data.folds import inner_fold_splits

    outer = fold_splits(DOCS, 5, 2)  # test d3
    inner = [inner_fold_splits(outer, j) for j in range(4)]
    assert [s["test"] for s in inner] == [["d1"], ["d2"], ["d4"], ["d5"]]
    assert all("d3" not in s["train"] + s["test"] for s in inner)
    with pytest.raises(ValueError, match=r"data.inner_fold=4: must be in \[0, 4\)"):
        inner_fold_splits(outer, 4)
    cfg = compose_config("train", ["experiment=seeds_cv", "data.fold=4", "data.inner_fold=0", "paths.output_dir=/x"])
    records, splits = load_corpus(cfg.data, schema)
    assert splits == {
        "train": ["001_41781d1e3c5b888b", "002_5fe9fa56fbd70bdd", "003_1c9a91d3e2df1cb5"],
        "test": ["000_cfc1bba1020dc4b0"],
    }
