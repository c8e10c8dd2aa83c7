"""The annotation audit: confident cross-validated disagreements with the gold, and gold no run found."""

import json

from ie.audit import main as audit_main
from ie.evaluation.audit import audit

WORDS = ["The", "Eurasian", "Fund", "for", "Development", "met", "Lipetsk", "officials", "."]


def write_run(folder, pred_entities, gold_entity_relations=()):
    (folder / "ner").mkdir(parents=True)
    (folder / "config.yaml").write_text("seed: 1\n")
    row = {
        "doc_id": "d",
        "sent_index": 0,
        "words": WORDS,
        "gold_entities": [[1, 5, "ORG"], [7, 8, "ROLE"]],
        "gold_relations": [[1, 0, "has_role"]],
        "pred_tags": ["O"] * len(WORDS),
        "pred_entities": pred_entities,
        "gold_entity_relations": list(gold_entity_relations),
        "pred_relations": [],
    }
    (folder / "predictions_test.jsonl").write_text(json.dumps({"header": {}}) + "\n" + json.dumps(row) + "\n")


def test_confident_disagreements_and_gold_never_found(tmp_path):
    for seed, score in ((1, 0.97), (2, 0.95)):
        write_run(tmp_path / f"run{seed}", [[1, 3, "ORG", score], [6, 7, "LOC", 0.99], [5, 6, "EVENT", 0.5]])
    items = audit([tmp_path])
    found = [(x["kind"], x["predicted"] or x["gold"][0]) for x in items]
    assert found == [
        ("not annotated", "Lipetsk (LOC)"),
        ("boundary", "Eurasian Fund (ORG)"),
        ("never found", "Eurasian Fund for Development (ORG)"),
        ("never found", "officials (ROLE)"),
        ("never found", "has_role(officials (ROLE) -> Eurasian Fund for Development (ORG))"),
    ]
    assert items[1]["gold"] == ["Eurasian Fund for Development (ORG)"] and items[1]["agreement"] == 1.0
    # what only one of the two runs predicted is no confident disagreement unless asked for
    write_run(tmp_path / "run3", [[6, 7, "LOC", 0.99]])
    assert not any(x["predicted"] == "Eurasian Fund (ORG)" for x in audit([tmp_path]))
    assert any(x["predicted"] == "Eurasian Fund (ORG)" for x in audit([tmp_path], min_agreement=0.6))


def test_the_command_writes_a_page_with_the_guideline_section_of_each_label(tmp_path, capsys):
    write_run(tmp_path / "runs" / "run1", [[6, 7, "LOC", 0.99]])
    assert audit_main([str(tmp_path / "runs"), "--output", str(tmp_path / "audit.md")]) == 0
    page = (tmp_path / "audit.md").read_text()
    assert "| 1 | d#0 | entity | not annotated | - | Lipetsk (LOC) | 100% | 0.99 | 5.3 LOC |" in page
    assert "| officials (ROLE) | - | 0% | 0.00 | 5.7 ROLE |" in page
    assert audit_main([str(tmp_path / "nowhere")]) == 1 and "ie.audit: error:" in capsys.readouterr().err
