"""The authored corpus (corpus/authored): what the issue asks of it holds on every run of the tests. It
shares no sentence with the seeds (the longest shared word n-gram is reported and kept under 8 words), it
validates with no error under both segmenters, it is as large as promised, and its double annotation is
the one docs/annotation.md reports. The tools behind it (ie.overlap, ie.agreement) are tested on small
made-up documents."""

import shutil

import pytest

from ie.agreement import main as agreement_main
from ie.data.documents import Document, EntityAnnotation, RelationAnnotation
from ie.data.formats.brat import read_folder
from ie.data.overlap import longest_shared_ngram, shared_entity_strings
from ie.data.problems import AnnotationError
from ie.data.validate import label_counts, validate_document
from ie.evaluation.agreement import agreement
from ie.overlap import main as overlap_main

from tests.conftest import ROOT, SEEDS

AUTHORED = ROOT / "corpus" / "authored"
DOUBLE = ROOT / "corpus" / "double"


def doc(doc_id, text, entities=(), relations=()):
    ents = [
        EntityAnnotation(f"T{i}", label, start, end, text[start:end])
        for i, (label, start, end) in enumerate(entities, 1)
    ]
    rels = [RelationAnnotation(f"R{i}", label, f"T{h}", f"T{t}") for i, (label, h, t) in enumerate(relations, 1)]
    return Document(id=doc_id, text=text, entities=ents, relations=rels)


def test_longest_shared_ngram_sees_through_case_punctuation_and_line_breaks():
    seed = doc("s", "The delegation visited the plant. Then it left for Omsk on Monday.")
    new = doc("n", "Reporters said: the PLANT, then it left\nfor Omsk! Nothing else.")
    shared = longest_shared_ngram([new], [seed])
    assert shared.words == ("the", "plant", "then", "it", "left", "for", "omsk")
    assert (shared.length, shared.document, shared.reference) == (7, "n", "s")
    assert longest_shared_ngram([doc("x", "zebra quokka")], [seed]) is None


def test_shared_entity_strings_are_listed_per_reference_with_their_label():
    seed = doc("s", "Omsk met Kurgan", [("LOC", 0, 4), ("ORG", 9, 15)])
    new = doc("n", "omsk and Kurgan", [("LOC", 0, 4), ("LOC", 9, 15)])
    assert shared_entity_strings([new], [seed]) == {"s": ["LOC Omsk"]}  # Kurgan differs in label


def test_overlap_command_fails_on_a_copied_sentence(tmp_path, capsys):
    copied = tmp_path / "copied"
    copied.mkdir()
    text = (SEEDS / "001_41781d1e3c5b888b.txt").read_text(encoding="utf-8")
    (copied / "x.txt").write_text("A new opening line.\n" + text.split("\n")[2], encoding="utf-8")
    (copied / "x.ann").write_text("", encoding="utf-8")
    assert overlap_main([str(copied), str(SEEDS)]) == 1
    assert "001_41781d1e3c5b888b" in capsys.readouterr().out


def test_agreement_is_strict_on_spans_labels_and_relations():
    text = "Oleg Vorontsov met Nurlan Abenov in Omsk."
    first = doc("d", text, [("PER", 0, 14), ("PER", 19, 32), ("LOC", 36, 40)], [("met_with", 1, 2)])
    same = doc("d", text, [("PER", 0, 14), ("PER", 19, 32), ("LOC", 36, 40)], [("met_with", 2, 1)])  # symmetric
    other = doc("d", text, [("PER", 0, 14), ("PER", 26, 32), ("ORG", 36, 40)], [("met_with", 1, 2)])
    from ie.data.schema import Schema

    schema = Schema.load(SEEDS / "schema.json")
    full = agreement([first], [same], schema)
    assert full["entities"]["micro"]["f1"] == 1.0 and full["relations"]["micro"]["f1"] == 1.0
    part = agreement([first], [other], schema)
    assert part["entities"]["micro"]["tp"] == 1 and part["entities"]["per_type"]["LOC"]["fn"] == 1
    assert part["relations"]["micro"]["f1"] == 0.0  # an argument's span differs
    with pytest.raises(AnnotationError, match="text differs"):
        agreement([first], [doc("d", text + " More.")], schema)


def test_agreement_command_prints_per_type_tables(tmp_path, capsys):
    second = tmp_path / "second"
    second.mkdir()
    for suffix in (".txt", ".ann"):
        shutil.copy(SEEDS / f"001_41781d1e3c5b888b{suffix}", second)
    assert agreement_main([str(SEEDS), str(second), "--json", str(tmp_path / "a.json")]) == 0
    out = capsys.readouterr().out
    assert "| **all** | 32 | 32 | 32 | 1.000 |" in out and "| AGREEMENT | 0 | 0 | 0 | n/a |" in out
    assert (tmp_path / "a.json").is_file()


@pytest.fixture(scope="module")
def authored():
    return read_folder(AUTHORED)


def test_the_authored_corpus_copies_no_seed_sentence(capsys):
    """The report a reviewer reads (pytest -rP shows it): the longest word n-gram shared with any seed
    article, under 8 words, and per seed article the entity strings the corpus also annotates."""
    status = overlap_main([str(AUTHORED), str(SEEDS)])
    report = capsys.readouterr().out
    print(report)
    assert status == 0, report


@pytest.mark.parametrize("segmenter", ["spacy", "spacy_keep_hyphens"])
def test_the_authored_corpus_validates_without_error(authored, schema, segmenter):
    problems = [p for d in authored for p in validate_document(d, schema, segmenter=segmenter)[0]]
    assert not [p for p in problems if p.severity == "error"], "\n".join(map(str, problems[:20]))


def test_the_authored_corpus_is_ten_times_the_seeds(authored, schema):
    ents, rels = label_counts(authored)
    words = sum(len(d.text.split()) for d in authored)
    assert len(authored) >= 60 and words >= 15_000
    assert sum(ents.values()) >= 2_500 and sum(rels.values()) >= 1_000
    assert min(ents[label] for label in schema.entity_labels) >= 150, ents
    assert min(rels[label] for label in schema.relation_labels[1:]) >= 60, rels
    assert all(150 <= len(d.text.split()) <= 600 for d in authored)


def test_the_double_annotation_covers_a_fifth_of_the_corpus_with_identical_texts(authored, schema):
    first, second = read_folder(DOUBLE / "first"), read_folder(DOUBLE / "second")
    assert {d.id for d in first} == {d.id for d in second} <= {d.id for d in authored}
    assert len(second) >= 0.2 * len(authored)
    texts = {d.id: d.text for d in authored}
    assert all(d.text == texts[d.id] for d in second)


def test_the_agreement_reported_in_the_guideline_is_the_one_the_files_give(schema):
    from ie.evaluation.agreement import agreement_markdown

    scores = agreement(read_folder(DOUBLE / "first"), read_folder(DOUBLE / "second"), schema)
    guideline = (ROOT / "docs" / "annotation.md").read_text(encoding="utf-8")
    assert agreement_markdown(scores).strip() in guideline


def test_the_corpus_and_the_seeds_read_as_one_corpus_with_the_seeds_a_split_of_their_own():
    from ie.data.corpus import load_corpus
    from ie.data.schema import Schema

    from tests.conftest import compose_config

    cfg = compose_config("train", ["experiment=authored", "paths.output_dir=/tmp/x"])
    records, splits = load_corpus(cfg.data, Schema.load(cfg.data.schema))
    assert (len(splits["train"]), len(splits["dev"]), len(splits["test"]), len(splits["seeds"])) == (40, 8, 16, 5)
    assert not set(splits["seeds"]) & set(splits["train"]) and len(records) == 69


def test_the_default_run_trains_on_the_seeds_and_the_corpus_train_split_and_tests_on_a_seed_article():
    from ie.training.prepare import load_data

    from tests.conftest import TEST_DOC, compose_config

    cfg = compose_config("train", ["paths.output_dir=/tmp/x"])
    data = load_data(cfg)
    train = set(data.ner["train"]["doc_id"])
    mixed = {d.removeprefix("mix:") for d in train if d.startswith("mix:")}
    dev_and_test = set(cfg.mix.data.splits.dev) | set(cfg.mix.data.splits.test)
    assert len(mixed) == 40 and not mixed & dev_and_test  # the corpus's dev and test articles never train
    assert {d for d in train if not d.startswith("mix:")} and set(data.ner["test"]["doc_id"]) == {TEST_DOC}
    assert (cfg.trainer.ner.epochs, cfg.trainer.re.epochs) == (12, 12)


def test_two_folders_with_one_document_id_are_refused(tmp_path, schema):
    from ie.data.readers import load_records
    from ie.errors import ConfigError

    copy = tmp_path / "copy"
    shutil.copytree(SEEDS, copy)
    with pytest.raises(ConfigError, match="document '000_cfc1bba1020dc4b0' is in both"):
        load_records("brat", [str(SEEDS), str(copy)], schema)
