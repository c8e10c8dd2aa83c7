import json
import shutil
from collections import Counter

import pytest

from ie.data.formats.conll04 import read_records as read_conll04_records
from ie.data.dataset import build_datasets
from ie.data.problems import ValidationError
from ie.data.readers import load_records
from ie.data.schema import Schema
from tests.conftest import ROOT, compose_config

CONLL = ROOT / "data" / "conll04"


@pytest.fixture(scope="module")
def conll_schema():
    return Schema.load(CONLL / "schema.json")


def test_test_split_matches_the_published_support_counts(conll_schema):
    records = read_conll04_records(CONLL, conll_schema)
    assert {k: len(v) for k, v in records.items()} == {"train": 922, "dev": 231, "test": 288}
    test = records["test"]
    assert Counter(lab for r in test for *_, lab in r.entities) == {"Org": 198, "Loc": 427, "Other": 133, "Peop": 321}
    assert Counter(lab for r in test for *_, lab in r.relations) == {
        "Kill": 47, "OrgBased_In": 105, "Work_For": 76, "Located_In": 94, "Live_In": 100}
    # tokens are kept as given, never re-tokenised
    first = json.loads((CONLL / "conll04_test.json").read_text())[0]
    assert test[0].words == first["tokens"]


def test_config_builds_the_same_dataset_form_as_the_seeds(conll_schema):
    cfg = compose_config("train", ["data=conll04", "paths.output_dir=/tmp/x"])
    records = load_records(cfg.data.format, cfg.data.path, conll_schema)
    data = build_datasets({k: v[:5] for k, v in records.items()}, conll_schema, dict(cfg.data.splits))
    assert set(data.ner) == {"train", "dev", "test"}
    assert data.ner["test"].features["ner_tags"].feature.names[:3] == ["O", "B-Peop", "I-Peop"]
    assert data.re["test"].features["label"].names[0] == "no_relation"


@pytest.mark.parametrize("mutate, message", [
    (lambda item: item["entities"][0].update(end=999), "outside the"),
    (lambda item: item["entities"][0].update(type="Person"), "unknown entity label 'Person'"),
    (lambda item: item["relations"][0].update(type="Kill"), "not allowed"),
    (lambda item: item.pop("tokens"), "lacks field"),
])
def test_bad_items_are_reported_with_file_and_item(conll_schema, tmp_path, mutate, message):
    for split in ("train", "dev", "test"):
        shutil.copy(CONLL / f"conll04_{split}.json", tmp_path)
    items = json.loads((CONLL / "conll04_dev.json").read_text())
    mutate(items[3])
    (tmp_path / "conll04_dev.json").write_text(json.dumps(items))
    with pytest.raises(ValidationError, match=message) as err:
        read_conll04_records(tmp_path, conll_schema)
    assert "conll04_dev.json[3]" in str(err.value) and len(err.value.problems) == 1
