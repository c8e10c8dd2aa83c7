import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from ie.metrics import ner_scores, relation_scores, relation_tuple, spans_to_bio

GOLD = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O", "B-PER"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["I-ORG", "I-ORG", "O", "B-PER"]]


def test_ner_scores_by_hand():
    scores = ner_scores(GOLD, PRED, ["PER", "ORG", "LOC"])
    # gold: PER x2, LOC, ORG. pred (strict IOB2): PER x2, ORG at [1,3] (the I-ORG start is not an entity)
    assert scores["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert scores["per_type"]["ORG"]["precision"] == 0.0 and scores["per_type"]["ORG"]["support"] == 1
    assert scores["per_type"]["LOC"]["recall"] == 0.0
    assert scores["micro"]["precision"] == pytest.approx(2 / 3)
    assert scores["micro"]["recall"] == pytest.approx(2 / 4)
    assert scores["micro"]["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert scores["macro"]["f1"] == pytest.approx(1 / 3)


def test_ner_scores_match_seqeval_report():
    report = classification_report(GOLD, PRED, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    scores = ner_scores(GOLD, PRED, ["PER", "ORG", "LOC", "DATE"])
    assert scores["micro"]["f1"] == pytest.approx(report["micro avg"]["f1-score"])
    assert scores["macro"]["f1"] == pytest.approx(report["macro avg"]["f1-score"])
    assert scores["per_type"]["DATE"]["support"] == 0  # unseen type listed, not in macro


def test_ner_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        ner_scores([["O"]], [["O", "O"]], ["PER"])


def rel(key, head, tail, label, symmetric=False):
    return relation_tuple(key, head, tail, label, symmetric)


def test_relation_scores_crafted_cases():
    gold = [rel(0, (0, 2, "PER"), (5, 6, "ORG"), "works_for"), rel(0, (0, 2, "PER"), (3, 4, "ROLE"), "has_role"),
            rel(1, (0, 1, "LOC"), (2, 3, "LOC"), "located_in")]
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


def test_wrong_entity_type_is_a_miss_and_symmetric_order_does_not_matter():
    gold = [rel(0, (0, 2, "PER"), (5, 6, "ORG"), "works_for"), rel(0, (0, 2, "PER"), (3, 5, "PER"), "met_with", True)]
    pred = [rel(0, (0, 2, "PER"), (5, 6, "LOC"), "works_for"), rel(0, (3, 5, "PER"), (0, 2, "PER"), "met_with", True)]
    scores = relation_scores(gold, pred, ["works_for", "met_with"])
    assert scores["per_type"]["works_for"]["tp"] == 0
    assert scores["per_type"]["met_with"]["tp"] == 1


def test_spans_to_bio():
    assert spans_to_bio(5, [(0, 2, "PER"), (3, 4, "LOC")]) == ["B-PER", "I-PER", "O", "B-LOC", "O"]
