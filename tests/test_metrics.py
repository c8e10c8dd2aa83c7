import random

import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from ie.data.bio import spans_to_tags
from ie.evaluation.metrics import (
    count_matches,
    ner_scores,
    relation_scores,
    relation_tuple,
    scores_from_counts,
    tag_entities,
)

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O", "B-PER"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "I-ORG", "O", "B-PER"]]


def test_ner_strict_scores_by_hand():
    scores = ner_scores(GOLD, PRED, ["PER", "ORG", "LOC"], mode="strict")
    # gold: PER x2, LOC, ORG. pred (strict IOB2): PER x2, ORG at [3,4) (the I-ORG start is not an entity)
    assert scores["per_type"]["PER"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 2,
        "tp": 2,
        "fp": 0,
        "fn": 0,
    }
    assert scores["per_type"]["ORG"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
        "tp": 0,
        "fp": 1,
        "fn": 1,
    }
    assert scores["per_type"]["LOC"]["recall"] == 0.0
    assert (scores["micro"]["tp"], scores["micro"]["fp"], scores["micro"]["fn"]) == (2, 1, 2)
    assert scores["micro"]["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert scores["macro"]["f1"] == pytest.approx(1 / 3)


def test_ner_default_mode_keeps_chunks_that_open_with_i():
    scores = ner_scores(GOLD, PRED, ["PER", "ORG", "LOC"], mode="default")
    # conlleval reads "I-ORG I-ORG" as an ORG at [0,2): it matches the gold ORG
    assert scores["per_type"]["ORG"]["tp"] == 1 and scores["per_type"]["ORG"]["fp"] == 1
    assert (scores["micro"]["tp"], scores["micro"]["fp"], scores["micro"]["fn"]) == (3, 1, 1)
    assert tag_entities(["I-ORG", "I-LOC", "B-LOC"], "default") == {(0, 1, "ORG"), (1, 2, "LOC"), (2, 3, "LOC")}
    assert tag_entities(["I-ORG", "I-LOC", "B-LOC"], "strict") == {(2, 3, "LOC")}


def random_tags(rng, length, types=("PER", "ORG", "LOC")):
    return [rng.choice(["O", "O", "O"] + [f"{p}-{t}" for p in "BI" for t in types]) for _ in range(length)]


@pytest.mark.parametrize("mode", ["strict", "default"])
def test_ner_scores_equal_seqeval_report_on_random_tags(mode):
    rng = random.Random(7)
    for _ in range(30):
        lengths = [rng.randint(1, 12) for _ in range(rng.randint(1, 8))]
        gold = [random_tags(rng, n) for n in lengths]
        pred = [random_tags(rng, n) for n in lengths]
        kwargs = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
        report = classification_report(gold, pred, output_dict=True, zero_division=0, **kwargs)
        scores = ner_scores(gold, pred, ["PER", "ORG", "LOC", "DATE"], mode=mode)
        for label in ("PER", "ORG", "LOC"):
            if label in report:
                for ours, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
                    assert scores["per_type"][label][ours] == pytest.approx(report[label][theirs])
                assert scores["per_type"][label]["support"] == report[label]["support"]
        if "micro avg" in report:
            assert scores["micro"]["f1"] == pytest.approx(report["micro avg"]["f1-score"])
            assert scores["macro"]["f1"] == pytest.approx(report["macro avg"]["f1-score"])
        assert scores["per_type"]["DATE"]["support"] == 0  # listed, not averaged


def test_ner_length_mismatch_and_unknown_labels_are_errors():
    with pytest.raises(ValueError, match="differ in length"):
        ner_scores([["O"]], [["O", "O"]], ["PER"])
    with pytest.raises(ValueError, match="not in the schema"):
        ner_scores([["B-XYZ"]], [["O"]], ["PER"])


def rel(key, head, tail, label, symmetric=False, mode="strict"):
    return relation_tuple(key, head, tail, label, symmetric, mode)


def test_relation_scores_crafted_cases():
    gold = [
        rel(0, (0, 2, "PER"), (5, 6, "ORG"), "works_for"),
        rel(0, (0, 2, "PER"), (3, 4, "ROLE"), "has_role"),
        rel(1, (0, 1, "LOC"), (2, 3, "LOC"), "located_in"),
    ]
    pred = [
        rel(0, (0, 2, "PER"), (5, 6, "ORG"), "works_for"),  # right
        rel(0, (0, 2, "PER"), (5, 6, "ORG"), "works_for"),  # duplicate: counted once
        rel(0, (0, 1, "PER"), (3, 4, "ROLE"), "has_role"),  # wrong head boundary
        rel(1, (2, 3, "LOC"), (0, 1, "LOC"), "located_in"),  # swapped direction
        rel(2, (0, 2, "PER"), (5, 6, "LOC"), "works_for"),  # wrong sentence
    ]
    scores = relation_scores(gold, pred, ["works_for", "has_role", "located_in", "met_with"])
    assert scores["micro"]["tp"] == 1 and scores["micro"]["fp"] == 3 and scores["micro"]["fn"] == 2
    assert scores["per_type"]["works_for"]["precision"] == 0.5
    assert scores["per_type"]["has_role"]["f1"] == 0.0
    assert scores["macro"]["f1"] == pytest.approx((2 / 3 + 0 + 0) / 3)  # met_with unseen: not averaged


@pytest.mark.parametrize("mode, works_for_tp", [("strict", 0), ("boundaries", 1)])
def test_wrong_entity_type_counts_only_in_boundaries_mode(mode, works_for_tp):
    gold = [
        rel(0, (0, 2, "PER"), (5, 6, "ORG"), "works_for", mode=mode),
        rel(0, (0, 2, "PER"), (3, 5, "PER"), "met_with", True, mode=mode),
        rel(0, (0, 2, "PER"), (7, 8, "ORG"), "works_for", mode=mode),
    ]
    pred = [
        rel(0, (0, 2, "PER"), (5, 6, "LOC"), "works_for", mode=mode),  # tail typed LOC
        rel(0, (3, 5, "PER"), (0, 2, "PER"), "met_with", True, mode=mode),  # symmetric: order free
        rel(0, (7, 8, "ORG"), (0, 2, "PER"), "works_for", mode=mode),
    ]  # reversed: wrong in both modes
    scores = relation_scores(gold, pred, ["works_for", "met_with"])
    assert scores["per_type"]["works_for"]["tp"] == works_for_tp
    assert scores["per_type"]["met_with"]["tp"] == 1


def test_scores_from_counts_adds_up_per_label_counts():
    counts = count_matches([(0, "a"), (1, "a"), (2, "b")], [(0, "a"), (3, "b"), (3, "b")])
    assert counts == {"a": [1, 0, 1], "b": [0, 1, 1]}
    scores = scores_from_counts(counts, ["a", "b", "c"])
    assert scores["micro"]["precision"] == 0.5 and scores["micro"]["recall"] == pytest.approx(1 / 3)
    assert scores["macro"]["recall"] == pytest.approx(0.25)  # (1/2 + 0) / 2; c unseen


def test_spans_to_tags():
    assert spans_to_tags(5, [(0, 2, "PER"), (3, 4, "LOC")]) == ["B-PER", "I-PER", "O", "B-LOC", "O"]
