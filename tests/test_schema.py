import json

import pytest

from ie.data.schema import NO_RELATION, Schema, SchemaError

from tests.conftest import SEEDS


def test_labels_come_from_the_schema_file(schema):
    assert schema.entity_labels == ["PER", "ORG", "LOC", "EVENT", "DATE", "ROLE", "AGREEMENT"]
    assert schema.relation_labels[0] == NO_RELATION
    assert schema.bio_tags[:3] == ["O", "B-PER", "I-PER"] and len(schema.bio_tags) == 15


def test_candidate_rules_follow_signatures_and_symmetry(schema):
    assert schema.allowed_relations("PER", "ORG") == ["works_for"]
    assert schema.is_candidate("PER", 0, "ROLE", 10)
    assert not schema.is_candidate("ROLE", 0, "PER", 10)  # has_role is PER -> ROLE only
    # met_with is symmetric: one direction, earlier mention first
    assert schema.is_candidate("PER", 0, "PER", 10)
    assert not schema.is_candidate("PER", 10, "PER", 0)
    assert not schema.is_candidate("DATE", 0, "DATE", 5)


def test_brat_conf_in_seeds_is_generated_from_the_schema(schema):
    assert (SEEDS / "annotation.conf").read_text(encoding="utf-8") == schema.to_brat_conf()


def test_round_trip(schema, tmp_path):
    schema.save(tmp_path / "s.json")
    assert Schema.load(tmp_path / "s.json") == schema
    assert schema.differences(Schema.load(tmp_path / "s.json")) == []


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["relations"][0]["tails"].append("CITY"), "unknown entity label 'CITY'"),
        (lambda d: d.update(colour="red"), "unknown top-level field"),
        (lambda d: d["entities"].append({"label": "PER"}), "duplicate entity label"),
        (lambda d: d["relations"][0].update(label="no_relation"), "reserved"),
    ],
)
def test_bad_schema_names_the_problem(schema, tmp_path, mutate, message):
    data = schema.to_dict()
    mutate(data)
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(SchemaError, match=message) as err:
        Schema.load(tmp_path / "bad.json")
    assert "bad.json" in str(err.value)


def test_differences_are_spelled_out(schema):
    data = schema.to_dict()
    data["relations"][0]["tails"] = ["ORG"]
    diffs = schema.differences(Schema.from_dict(data))
    assert len(diffs) == 1 and "works_for" in diffs[0]
