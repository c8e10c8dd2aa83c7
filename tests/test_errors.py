from ie.evaluation.error_analysis import NONE, entity_errors, error_analysis, relation_errors

WORDS = ["Denis", "Manturov", "met", "Emomali", "Rahmon", "in", "Dushanbe", "on", "Friday", "."]


def row(gold_entities, pred_entities, gold_relations=(), pred_relations=(), gold_entity_relations=()):
    return {
        "doc_id": "d",
        "sent_index": 0,
        "words": WORDS,
        "gold_entities": [list(e) for e in gold_entities],
        "pred_entities": [list(e) + [0.9] for e in pred_entities],
        "gold_relations": [list(r) for r in gold_relations],
        "pred_relations": [list(r) + [0.8] for r in pred_relations],
        "gold_entity_relations": [list(r) + [0.8] for r in gold_entity_relations],
        "pred_tags": ["O"] * len(WORDS),
    }


def test_entity_confusion_and_error_kinds():
    gold = [(0, 2, "PER"), (3, 5, "PER"), (6, 7, "LOC"), (8, 9, "DATE")]
    pred = [
        (0, 2, "PER"),  # right
        (3, 5, "ORG"),  # wrong type
        (6, 8, "LOC"),  # wrong boundary
        (2, 3, "EVENT"),
    ]  # spurious; DATE missed
    errors = entity_errors([row(gold, pred)], ["PER", "ORG", "LOC", "EVENT", "DATE"])
    exact, boundary = errors["confusion"]["exact_span"], errors["confusion"]["boundary"]
    assert exact["PER"]["PER"] == 1 and exact["PER"]["ORG"] == 1
    assert boundary["LOC"]["LOC"] == 1 and exact["LOC"][NONE] == 0
    assert exact["DATE"][NONE] == 1 and exact[NONE]["EVENT"] == 1
    kinds = {(x["label"], x["kind"]) for items in errors["false_negatives"].values() for x in items}
    assert kinds == {("PER", "wrong type"), ("LOC", "wrong boundary"), ("DATE", "missed")}
    fps = {(x["text"], x["kind"]) for items in errors["false_positives"].values() for x in items}
    assert fps == {("Emomali Rahmon", "wrong type"), ("Dushanbe on", "wrong boundary"), ("met", "spurious")}
    missed = errors["false_negatives"]["DATE"][0]
    assert missed["sentence"].startswith("Denis Manturov met") and missed["text"] == "Friday"


def test_relation_confusion_counts_reversed_and_wrong_labels(schema):
    ents = [(0, 2, "PER"), (3, 5, "PER"), (6, 7, "LOC")]
    gold_rel = [(0, 2, "works_for"), (1, 2, "works_for")]
    pred_rel = [
        (2, 0, "located_in"),  # PER/LOC pair read the wrong way with another label (not a candidate,
        (1, 2, "works_for"),  # but errors are counted whatever the model says)
        (0, 1, "met_with"),
    ]  # spurious
    r = row(ents, ents, gold_rel, pred_rel)
    errors = relation_errors(schema, [r], "end_to_end")
    m = errors["confusion"]
    assert m["works_for"]["works_for"] == 1 and m["works_for"][NONE] == 1
    assert m[NONE]["met_with"] == 1 and m[NONE]["located_in"] == 1
    fn = errors["false_negatives"]["works_for"]
    assert [x["kind"] for x in fn] == ["predicted as located_in"]
    assert {x["kind"] for x in errors["false_positives"]["met_with"]} == {"spurious"}


def test_reversed_direction_is_counted(schema):
    ents = [(0, 2, "PER"), (6, 7, "LOC"), (3, 5, "LOC")]
    r = row(ents, ents, [(1, 2, "located_in")], [(2, 1, "located_in")])
    errors = relation_errors(schema, [r], "end_to_end")
    assert errors["reversed"]["located_in"] == 1
    assert errors["false_negatives"]["located_in"][0]["kind"] == "reversed"
    assert errors["false_positives"]["located_in"][0]["kind"] == "reversed"


def test_error_analysis_covers_what_the_run_predicted(schema):
    r = row([(0, 2, "PER")], [(0, 2, "PER")])
    assert set(error_analysis(schema, [r])) == {"entities", "relations"}
    del r["pred_entities"], r["pred_relations"]
    assert set(error_analysis(schema, [r])) == {"relations"}
    assert set(error_analysis(schema, [r])["relations"]) == {"gold_entities"}


def test_breakdown_counts_what_became_of_every_gold_entity_and_relation(schema):
    from ie.evaluation.error_analysis import breakdown

    gold = [(0, 2, "PER"), (3, 5, "PER"), (6, 7, "LOC"), (8, 9, "DATE")]
    pred = [(0, 2, "PER"), (3, 5, "ORG"), (6, 8, "LOC"), (2, 3, "EVENT")]
    gold_rels = [(0, 1, "met_with")]
    rows = [row(gold, pred, gold_rels, pred_relations=[], gold_entity_relations=[(0, 1, "met_with")])]
    result = breakdown(schema, rows)
    ents = result["entities"]
    assert ents["PER"] == {
        "correct": 1,
        "wrong boundary": 0,
        "wrong type": 1,
        "wrong boundary and type": 0,
        "missed": 0,
        "spurious": 0,
    }
    assert ents["LOC"]["wrong boundary"] == 1 and ents["DATE"]["missed"] == 1 and ents["EVENT"]["spurious"] == 1
    # with gold entities the relation is found; end to end its second argument was typed ORG
    assert result["relations"]["gold_entities"]["met_with"]["correct"] == 1
    assert result["relations"]["end_to_end"]["met_with"]["argument wrong"] == 1
    both_right = row(
        [(0, 2, "PER"), (3, 5, "PER")],
        [(0, 2, "PER"), (3, 5, "PER")],
        gold_rels,
        pred_relations=[],
        gold_entity_relations=[],
    )
    missed = breakdown(schema, [both_right])["relations"]
    assert missed["end_to_end"]["met_with"]["missed"] == 1 and missed["gold_entities"]["met_with"]["missed"] == 1
