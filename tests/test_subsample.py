"""Learning-curve training sets (data.train_units, data.train_entities): nested within a draw, test split
untouched, sizes as asked, and bad sizes named."""

import pytest

from ie.data.corpus import load_corpus
from ie.errors import ConfigError

from tests.conftest import TEST_DOC, compose_config


def _corpus(schema, *overrides):
    cfg = compose_config("train", ["data.folds=5", "data.fold=4", *overrides])
    return load_corpus(cfg.data, schema)


def test_train_units_keeps_k_articles_nested_across_k_with_the_test_article_untouched(schema):
    _, full = _corpus(schema)
    chosen = [_corpus(schema, f"data.train_units={k}")[1] for k in (1, 2, 3, 4)]
    for k, splits in enumerate(chosen, start=1):
        assert len(splits["train"]) == k and set(splits["train"]) <= set(full["train"])
        assert splits["test"] == full["test"] == [TEST_DOC]
    assert all(set(a["train"]) <= set(b["train"]) for a, b in zip(chosen, chosen[1:]))
    draws = {tuple(_corpus(schema, "data.train_units=1", f"data.train_sample={s}")[1]["train"]) for s in range(4)}
    assert len(draws) > 1  # another sample is another draw
    with pytest.raises(ConfigError, match=r"data.train_units=5: must be in \[1, 4\]"):
        _corpus(schema, "data.train_units=5")


def test_train_entities_keeps_the_fewest_sentences_that_hold_them(schema):
    records, splits = _corpus(schema, "data.train_entities=40")
    train = [records[u][0] for u in splits["train"]]
    held = sum(len(r.entities) for r in train)
    assert 40 <= held < 40 + max(len(r.entities) for r in train)  # stops at the sentence that reaches 40
    assert splits["test"] == [TEST_DOC] and records[TEST_DOC]  # the test article whole
    assert all("#" in unit for unit in splits["train"])  # sentences of the training articles
    with pytest.raises(ConfigError, match="give one of them, not both"):
        _corpus(schema, "data.train_entities=40", "data.train_units=1")
