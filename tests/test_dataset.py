import pytest
from datasets import ClassLabel

from ie.data.dataset import build_datasets, candidate_pairs
from ie.data.documents import Document
from ie.data.documents import EntityAnnotation as E
from ie.data.documents import RelationAnnotation as R
from ie.data.folds import resolve_splits
from ie.data.records import document_records

TEXT = "President Emomali Rahmon met Denis Manturov in Dushanbe. Lipetsk is a city."


def records(schema):
    doc = Document(
        "d1",
        TEXT,
        [
            E("T1", "ROLE", 0, 9, "President"),
            E("T2", "PER", 10, 24, "Emomali Rahmon"),
            E("T3", "PER", 29, 43, "Denis Manturov"),
            E("T4", "LOC", 47, 55, "Dushanbe"),
            E("T5", "LOC", 57, 64, "Lipetsk"),
        ],
        [R("R1", "has_role", "T2", "T1"), R("R2", "met_with", "T2", "T3")],
    )
    return {"d1": document_records(doc, schema), "d2": [], "d3": []}


def test_ner_rows_have_typed_tags_and_offsets(schema):
    data = build_datasets(records(schema), schema, {"train": None, "test": ["d2"]})
    row = data.ner["train"][0]
    tags = data.ner["train"].features["ner_tags"].feature
    assert isinstance(tags, ClassLabel)
    assert [tags.int2str(t) for t in row["ner_tags"]][:5] == ["B-ROLE", "B-PER", "I-PER", "O", "B-PER"]
    assert row["doc_id"] == "d1" and TEXT[row["word_starts"][1] : row["word_ends"][2]] == "Emomali Rahmon"
    assert data.splits == {"train": ["d1", "d3"], "test": ["d2"]}


def test_relation_rows_are_every_fitting_ordered_pair(schema):
    data = build_datasets(records(schema), schema, {"train": None})
    rel = data.re["train"]
    label = rel.features["label"]
    got = {(r["head"]["start"], r["tail"]["start"], label.int2str(r["label"])) for r in rel}
    # words: President(0) Emomali(1) Rahmon(2) met(3) Denis(4) Manturov(5) in(6) Dushanbe(7)
    assert got == {
        (1, 0, "has_role"),
        (4, 0, "no_relation"),  # PER -> ROLE
        (1, 4, "met_with"),  # PER -> PER only earlier-first (symmetric)
        (1, 7, "no_relation"),
        (4, 7, "no_relation"),
    }  # PER -> LOC (works_for)
    # Lipetsk is in the second sentence: no pair across sentences
    assert all(r["sent_index"] == 0 for r in rel)


def test_candidate_pairs_within_sentence(schema):
    ents = [(0, 1, "LOC"), (2, 3, "LOC"), (4, 5, "DATE")]
    assert candidate_pairs(ents, schema) == [(0, 1), (1, 0)]  # located_in both ways, DATE fits nothing


@pytest.mark.parametrize(
    "splits, message",
    [
        ({"train": ["d1"], "test": ["d1"]}, "in both 'train' and 'test'"),
        ({"train": ["nope"]}, "unknown document 'nope'"),
        ({"train": None, "test": None}, "only one split may be null"),
    ],
)
def test_bad_splits_are_reported(splits, message):
    with pytest.raises(ValueError, match=message):
        resolve_splits(["d1", "d2"], splits)


def test_a_split_given_as_empty_list_is_left_out():
    # a config merged over another cannot delete its split: data.splits.dev=[] removes it
    assert resolve_splits(["d1", "d2", "d3"], {"train": ["d1", "d2"], "dev": [], "test": ["d3"]}) == {
        "train": ["d1", "d2"],
        "test": ["d3"],
    }
    assert resolve_splits(["d1", "d2"], {"train": ["d1", "d2"], "rest": None}) == {"train": ["d1", "d2"], "rest": []}


def test_a_new_format_is_one_reader_and_one_entry(monkeypatch, schema, tmp_path):
    """A reader registered under a name is what ``data.format=<name>`` reads, with the same validation."""
    from omegaconf import OmegaConf

    from ie.data import readers
    from ie.data.corpus import load_corpus
    from ie.data.problems import ValidationError
    from ie.errors import ConfigError

    def read_tsv(path, schema, warnings, label_map, segmenter):  # "id<TAB>text<TAB>label<TAB>start<TAB>end" lines
        records = {}
        for n, line in enumerate(open(path, encoding="utf-8"), start=1):
            doc_id, text, label, start, end = line.rstrip("\n").split("\t")
            entity = E("T1", label, int(start), int(end), text[int(start) : int(end)], n)
            records[doc_id] = document_records(
                Document(doc_id, text, [entity], source=f"{path}:{n}"),
                schema,
                warnings=warnings,
                label_map=label_map,
                segmenter=segmenter,
            )
        return records

    monkeypatch.setitem(readers.READERS, "tsv", read_tsv)
    (tmp_path / "a.tsv").write_text("a\tLipetsk is a city.\tLOC\t0\t7\nb\tDenis spoke.\tPER\t0\t5\n", encoding="utf-8")
    cfg = OmegaConf.create({"format": "tsv", "path": str(tmp_path / "a.tsv"), "splits": {"train": None, "test": ["b"]}})
    records, splits = load_corpus(cfg, schema)
    assert splits == {"train": ["a"], "test": ["b"]} and records["b"][0].entities == [(0, 1, "PER")]
    (tmp_path / "a.tsv").write_text("a\tLipetsk is a city.\tCITY\t0\t7\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="unknown entity label 'CITY'"):
        load_corpus(cfg, schema)
    with pytest.raises(
        ConfigError,
        match=r"data.format: unknown format 'xml' \(known: brat, label_studio, doccano, spacy, conll, "
        r"conll04, tsv\)",
    ):
        readers.load_records("xml", tmp_path, schema)


def test_mention_replacement_swaps_mentions_of_a_type_and_keeps_relations(schema):
    import random

    from ie.data.augment import mention_inventory, mention_replacement, replace_mentions

    recs = records(schema)
    first = recs["d1"][0]
    inventory = {"ROLE": [("Deputy", "Prime", "Minister")], "PER": [("Sherali", "Kabir")], "LOC": [("Khujand",)]}
    new = replace_mentions(first, inventory, random.Random(0), "d1~mr1")
    assert new.words[:6] == ["Deputy", "Prime", "Minister", "Sherali", "Kabir", "met"]
    assert [new.words[s:e] for s, e, _ in new.entities] == [
        ["Deputy", "Prime", "Minister"],
        ["Sherali", "Kabir"],
        ["Sherali", "Kabir"],
        ["Khujand"],
    ]
    assert [lab for *_, lab in new.entities] == [lab for *_, lab in first.entities]
    assert new.relations == first.relations and new.word_ends[0] == len("Deputy")
    assert mention_inventory(recs["d1"])["LOC"] == [("Dushanbe",), ("Lipetsk",)]
    copies = mention_replacement(recs, ["d1"], 2, seed=1)
    assert list(copies) == ["d1~mr1", "d1~mr2"] and copies == mention_replacement(recs, ["d1"], 2, seed=1)
    build_datasets({**recs, **copies}, schema, {"train": None})  # the copies are valid records
