"""Transfer from CoNLL04: labels mapped to the seed schema while reading (``data.label_map``), and
models initialised from a previous run (``model.init_from``). Tiny random models only."""

import json
from collections import Counter

import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from transformers import AutoTokenizer, set_seed

from ie.data.corpus import load_corpus
from ie.data.formats.brat import read_records as read_brat_records
from ie.data.formats.conll04 import read_records as read_conll04_records
from ie.data.label_map import LabelMap, LabelMapError
from ie.data.problems import ValidationError
from ie.data.schema import Schema
from ie.encoding.markers import add_marker_tokens
from ie.models.checkpoint import CheckpointError
from ie.models.modeling import build_ner_model, build_re_model
from ie.models.transfer import init_from_run, load_strict, read_weights

from tests.conftest import CONLL04_SCHEMA, TINY, compose_config, conll04_folder

SEED_MAP = {
    "entities": {"Peop": "PER", "Org": "ORG", "Loc": "LOC"},
    "relations": {"Work_For": "works_for", "Located_In": "located_in", "OrgBased_In": "located_in"},
}

# tokens: John(0) Smith(1) of(2) Acme(3) Corp(4) in(5) Boston(6) ,(7) Mass.(8) ,(9) killed(10) Bob(11)
#         at(12) the(13) Olympics(14) in(15) Boston(16) .(17)
ITEM = {
    "tokens": "John Smith of Acme Corp in Boston , Mass. , killed Bob at the Olympics in Boston .".split(),
    "entities": [
        {"type": "Peop", "start": 0, "end": 2},
        {"type": "Org", "start": 3, "end": 5},
        {"type": "Loc", "start": 6, "end": 7},
        {"type": "Loc", "start": 8, "end": 9},
        {"type": "Peop", "start": 11, "end": 12},
        {"type": "Other", "start": 14, "end": 15},
        {"type": "Loc", "start": 16, "end": 17},
    ],
    "relations": [
        {"type": "Work_For", "head": 0, "tail": 1},
        {"type": "OrgBased_In", "head": 1, "tail": 2},
        {"type": "Located_In", "head": 2, "tail": 3},
        {"type": "Live_In", "head": 0, "tail": 2},
        {"type": "Kill", "head": 0, "tail": 4},
        {"type": "Located_In", "head": 5, "tail": 6},
    ],  # its head (Other) is dropped
}


@pytest.fixture
def crafted(tmp_path):
    """A CoNLL04-style folder: the crafted item in train, a plain one in dev and test."""
    plain = {
        "tokens": ["Mary", "works", "for", "IBM", "."],
        "entities": [{"type": "Peop", "start": 0, "end": 1}, {"type": "Org", "start": 3, "end": 4}],
        "relations": [{"type": "Work_For", "head": 0, "tail": 1}],
    }
    for split, items in {"train": [ITEM], "dev": [plain], "test": [plain]}.items():
        (tmp_path / f"conll04_{split}.json").write_text(json.dumps(items))
    return tmp_path


@pytest.fixture(scope="module")
def conll_schema():
    return Schema.load(CONLL04_SCHEMA)


def label_map(target, source=None, entities=None, relations=None):
    return LabelMap(
        SEED_MAP["entities"] if entities is None else entities,
        SEED_MAP["relations"] if relations is None else relations,
        target,
        source,
    )


# --- label map ---------------------------------------------------------------------------------------


def test_labels_are_mapped_and_unmapped_ones_dropped_with_their_relations(crafted, schema, conll_schema):
    mapping = label_map(schema, conll_schema)
    (record,) = read_conll04_records(crafted, schema, label_map=mapping)["train"]
    assert [(s, e, lab) for s, e, lab in record.entities] == [
        (0, 2, "PER"),
        (3, 5, "ORG"),
        (6, 7, "LOC"),
        (8, 9, "LOC"),
        (11, 12, "PER"),
        (16, 17, "LOC"),
    ]
    words = lambda i: " ".join(record.words[record.entities[i][0] : record.entities[i][1]])  # noqa: E731
    assert {(words(h), words(t), lab) for h, t, lab in record.relations} == {
        ("John Smith", "Acme Corp", "works_for"),
        ("Acme Corp", "Boston", "located_in"),
        ("Boston", "Mass.", "located_in"),
    }  # Live_In, Kill and the Olympics' Located_In are gone
    summary = mapping.summary()
    assert summary["entities"]["Other"] == {"to": None, "kept": 0, "dropped": 1}
    assert summary["entities"]["Loc"] == {"to": "LOC", "kept": 3, "dropped": 0}
    assert summary["relations"]["Kill"] == {"to": None, "kept": 0, "dropped": 1}
    assert summary["relations"]["Live_In"]["dropped"] == 1
    assert summary["relations"]["Located_In"] == {
        "to": "located_in",
        "kept": 1,
        "dropped": 1,
        "dropped_with_argument": 1,
    }
    assert summary["relations"]["Work_For"]["kept"] == 3  # train, dev, test
    assert "Other: 1 dropped" in mapping.describe()


def test_mapped_relations_are_validated_against_the_target_signatures(crafted, schema, conll_schema):
    # Live_In is PER -> LOC: works_for allows it; Kill is PER -> PER: works_for does not
    fits = label_map(schema, conll_schema, relations={"Live_In": "works_for"})
    (record,) = read_conll04_records(crafted, schema, label_map=fits)["train"]
    assert [lab for *_, lab in record.relations] == ["works_for"]
    kills = label_map(schema, conll_schema, relations={"Kill": "works_for"})
    with pytest.raises(ValidationError, match=r"works_for\(PER -> PER\) not allowed") as err:
        read_conll04_records(crafted, schema, label_map=kills)
    assert "conll04_train.json[0]" in str(err.value)


@pytest.mark.parametrize("with_source_schema", [True, False])
@pytest.mark.parametrize(
    "kind, mapping, key",
    [
        ("entities", {"Person": "PER"}, "data.label_map.entities.Person"),
        ("relations", {"Works_For": "works_for"}, "data.label_map.relations.Works_For"),
    ],
)
def test_a_source_label_the_data_does_not_have_is_an_error_naming_the_key(
    crafted, schema, conll_schema, with_source_schema, kind, mapping, key
):
    cfg = {**SEED_MAP, kind: {**SEED_MAP[kind], **mapping}}
    if with_source_schema:  # checked up front against the source schema
        with pytest.raises(LabelMapError, match=key):
            LabelMap(cfg["entities"], cfg["relations"], schema, conll_schema)
    else:  # checked against the labels the data holds, once it is read
        data_cfg = OmegaConf.create(
            {"format": "conll04", "path": str(crafted), "splits": {"train": ["train"]}, "label_map": cfg}
        )
        with pytest.raises(LabelMapError, match=key) as err:
            load_corpus(data_cfg, schema)
        assert "Peop" in str(err.value) or "Work_For" in str(err.value)  # it lists what the data has


@pytest.mark.parametrize(
    "kind, mapping, key",
    [
        ("entities", {"Peop": "PERSON"}, "data.label_map.entities.Peop"),
        ("relations", {"Kill": "kills"}, "data.label_map.relations.Kill"),
        ("relations", {"Kill": "no_relation"}, "data.label_map.relations.Kill"),
    ],
)
def test_a_target_label_the_schema_does_not_have_is_an_error_naming_the_key(schema, kind, mapping, key):
    cfg = {**SEED_MAP, kind: {**SEED_MAP[kind], **mapping}}
    with pytest.raises(LabelMapError, match=key) as err:
        LabelMap.from_config(cfg, schema)
    assert "works_for" in str(err.value) or "PER" in str(err.value)


def test_a_data_label_outside_the_source_schema_is_an_error(crafted, schema, conll_schema):
    items = json.loads((crafted / "conll04_dev.json").read_text())
    items[0]["entities"][1]["type"] = "Company"
    (crafted / "conll04_dev.json").write_text(json.dumps(items))
    with pytest.raises(ValidationError, match="entity label 'Company' is not in the source schema") as err:
        read_conll04_records(crafted, schema, label_map=label_map(schema, conll_schema))
    assert "conll04_dev.json[0]" in str(err.value)


def test_the_map_works_for_brat_too(write_pair, tmp_path, schema):
    write_pair(
        "a",
        "Ann Lee heads Acme in Paris.\n",
        "T1\tPerson 0 7\tAnn Lee\nT2\tCompany 14 18\tAcme\nT3\tCity 22 27\tParis\nT4\tMisc 8 13\theads\n"
        "R1\tEmployer Arg1:T1 Arg2:T2\nR2\tBasedIn Arg1:T2 Arg2:T3\nR3\tDoes Arg1:T1 Arg2:T4\n",
    )
    mapping = LabelMap(
        {"Person": "PER", "Company": "ORG", "City": "LOC"},
        {"Employer": "works_for", "BasedIn": "located_in", "Does": "has_role"},
        schema,
    )
    (record,) = read_brat_records(tmp_path, schema, label_map=mapping)["a"]
    assert [lab for *_, lab in record.entities] == ["PER", "ORG", "LOC"]
    assert [(h, t, lab) for h, t, lab in record.relations] == [(0, 1, "works_for"), (1, 2, "located_in")]
    assert mapping.summary()["relations"]["Does"]["dropped_with_argument"] == 1


def test_real_conll04_reads_in_the_seed_schema(schema, conll04_dir):
    cfg = compose_config("train", ["data=conll04_seed_schema", "paths.output_dir=/tmp/x"])
    assert cfg.data.name != "conll04" and cfg.data.schema.endswith("seeds/schema.json")
    report: dict = {}
    records, splits = load_corpus(cfg.data, Schema.load(cfg.data.schema), [], report)
    assert set(splits) == {"train", "dev", "test"}
    for split, recs in records.items():
        ents = Counter(lab for r in recs for *_, lab in r.entities)
        rels = Counter(lab for r in recs for *_, lab in r.relations)
        assert set(ents) == {"PER", "ORG", "LOC"} and min(ents.values()) > 0, split
        assert set(rels) == {"works_for", "located_in"} and min(rels.values()) > 0, split
    test = Counter(lab for r in records["test"] for *_, lab in r.relations)
    assert test == {"works_for": 76, "located_in": 94 + 105}  # CoNLL04's published test support
    assert report["label_map"]["entities"]["Other"]["dropped"] == 706


def test_train_dev_experiments_leave_out_the_dev_split(conll04_dir):
    for experiment in ("conll04_final", "conll04_seed_schema"):
        cfg = compose_config("train", [f"experiment={experiment}", "paths.output_dir=/tmp/x"])
        _, splits = load_corpus(cfg.data, Schema.load(cfg.data.schema))
        assert splits == {"train": ["train", "dev"], "test": ["test"]}, experiment


def test_label_map_keys_are_checked_when_the_config_composes():
    with pytest.raises(ConfigCompositionException):
        compose_config("train", ["data=conll04_seed_schema", "data.label_map.entitis={}"])


# --- init_from -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A tiny pre-training run as experiment=conll04_seed_schema makes it, on the first items of CoNLL04."""
    from ie.training.train import train

    small = tmp_path_factory.mktemp("conll04_small")
    for split in ("train", "dev", "test"):
        items = json.loads((conll04_folder() / f"conll04_{split}.json").read_text())
        (small / f"conll04_{split}.json").write_text(json.dumps(items[:12]))
    out = tmp_path_factory.mktemp("pretrained")
    train(
        compose_config(
            "train",
            TINY
            + [
                "experiment=conll04_seed_schema",
                f"data.path={small}",
                f"paths.output_dir={out}",
                "trainer.report_to=[]",
            ],
        )
    )
    return out


def test_fine_tuning_starts_from_the_pretrained_weights(pretrained, tmp_path):
    """A run on the seeds with model.init_from and learning rate 0 saves exactly the pre-trained weights."""
    from ie.training.train import train

    cfg = compose_config(
        "train",
        TINY
        + [
            f"model.init_from={pretrained}",
            f"paths.output_dir={tmp_path}",
            "trainer.ner.learning_rate=0",
            "trainer.re.learning_rate=0",
            "trainer.report_to=[]",
        ],
    )
    train(cfg)
    for task in ("ner", "re"):
        before, after = read_weights(pretrained / task), read_weights(tmp_path / task)
        assert before.keys() == after.keys()
        assert all(torch.equal(before[k], after[k]) for k in before), task
    # not by chance: pre-training moved the weights away from the seeded initialisation both runs share
    set_seed(cfg.seed)
    fresh = build_ner_model(cfg.model, Schema.load(cfg.data.schema).bio_tags).state_dict()
    pretrained_ner = read_weights(pretrained / "ner")
    assert not all(torch.equal(fresh[k], pretrained_ner[k]) for k in fresh)
    assert f"initialised from the checkpoints of run `{pretrained}`" in (tmp_path / "README.md").read_text()


def test_init_from_loads_every_weight_before_training(pretrained, schema):
    cfg = compose_config("train", TINY + ["paths.output_dir=/tmp/x"])
    model = build_ner_model(cfg.model, schema.bio_tags)
    init_from_run(model, pretrained, "ner", schema)
    saved = read_weights(pretrained / "ner")
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.name_or_path)
    add_marker_tokens(tokenizer, schema.entity_labels)
    model = build_re_model(cfg.model, schema.relation_labels, len(tokenizer))
    init_from_run(model, pretrained, "re", schema)
    saved = read_weights(pretrained / "re")
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())


def test_a_schema_mismatch_names_the_run_the_task_and_the_labels(pretrained, conll_schema):
    cfg = compose_config("train", TINY + ["paths.output_dir=/tmp/x"])
    model = build_ner_model(cfg.model, conll_schema.bio_tags)
    with pytest.raises(CheckpointError) as err:
        init_from_run(model, pretrained, "ner", conll_schema)
    message = str(err.value)
    assert f"model.init_from={pretrained} (ner)" in message
    assert "'PER', 'ORG'" in message and "'Peop', 'Org'" in message


def test_a_run_without_the_task_is_an_error(pretrained, tmp_path, schema):
    (tmp_path / "ner").symlink_to(pretrained / "ner")
    cfg = compose_config("train", TINY + ["paths.output_dir=/tmp/x"])
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.name_or_path)
    add_marker_tokens(tokenizer, schema.entity_labels)
    with pytest.raises(CheckpointError, match=r"no re/ checkpoint in that run \(it has \['ner'\]\)"):
        init_from_run(build_re_model(cfg.model, schema.relation_labels, len(tokenizer)), tmp_path, "re", schema)


def test_keys_that_do_not_fit_are_named_never_skipped(pretrained, schema):
    other = compose_config("train", TINY + ["paths.output_dir=/tmp/x", "model.config_overrides.hidden_size=48"])
    with pytest.raises(CheckpointError, match=r"shapes \(checkpoint != model\): \[.*embeddings"):
        init_from_run(build_ner_model(other.model, schema.bio_tags), pretrained, "ner", schema)
    cfg = compose_config("train", TINY + ["paths.output_dir=/tmp/x"])
    model = build_ner_model(cfg.model, schema.bio_tags)
    state = read_weights(pretrained / "ner")
    state["extra.weight"] = state.pop("classifier.bias")
    with pytest.raises(
        CheckpointError,
        match=r"missing from the checkpoint: \['classifier.bias'\]; "
        r"not in the model: \['extra.weight'\]",
    ):
        load_strict(model, state, "test")


def test_transfer_cross_validation_composes():
    cfg = compose_config(
        "train", ["experiment=seeds_cv", "model.init_from=models/conll04_seed_schema/x", "paths.output_dir=/tmp/x"]
    )
    assert cfg.model.init_from == "models/conll04_seed_schema/x" and cfg.data.folds == 5
