import json
from collections import Counter

import pytest

from ie.data.formats.brat import AnnotationError, read_document, read_folder
from ie.data.formats.brat import read_records as read_brat_records
from ie.data.problems import ValidationError
from ie.data.validate import label_counts, validate_document
from ie.validate import main

from tests.conftest import SEEDS

TEXT = "Denis Manturov met Emomali Rahmon in Dushanbe. Lipetsk signed a protocol of intent."
GOOD = "T1\tPER 0 14\tDenis Manturov\nT2\tPER 19 33\tEmomali Rahmon\nT3\tLOC 37 45\tDushanbe\n"


def problems(write_pair, schema, ann):
    return [
        (p.line, p.severity, p.reason) for p in validate_document(read_document(write_pair("d", TEXT, ann)), schema)[0]
    ]


def test_clean_document_has_no_problems(write_pair, schema):
    assert problems(write_pair, schema, GOOD + "R1\tmet_with Arg1:T1 Arg2:T2\n") == []


@pytest.mark.parametrize(
    "extra, message",
    [
        ("T4\tCITY 47 54\tLipetsk\n", "unknown entity label 'CITY'"),
        ("T4\tLOC 47 900\tLipetsk\n", "outside the text"),
        ("T4\tLOC 54 47\tLipetsk\n", "offsets 54-47 outside the text"),
        ("T4\tLOC -7 0\tLipetsk\n", "offsets -7-0 outside the text"),
        ("T4\tLOC 47 54\tLipezk\n", "does not match the text"),
        ("T4\tLOC 46 54\t Lipetsk\n", "starts or ends with a space"),
        ("T4\tLOC 37 46\tDushanbe.\n", "ends with a punctuation word"),
        ("T4\tLOC 47 52\tLipet\n", "not at a word boundary"),
        ("T4\tPER 6 14\tManturov\n", "overlaps T1"),
        ("T4\tPER 0 14\tDenis Manturov\n", "duplicate of T1"),
        ("T4\tLOC 37 54\tDushanbe. Lipetsk\n", "crosses a sentence boundary"),
        ("R1\tknows Arg1:T1 Arg2:T2\n", "unknown relation label 'knows'"),
        ("R1\tmet_with Arg1:T1 Arg2:T9\n", "unknown entity id"),
        ("R1\tlocated_in Arg1:T1 Arg2:T3\n", "not allowed: schema wants ORG|EVENT|LOC -> LOC"),
        ("R1\tmet_with Arg1:T2 Arg2:T1\n", "earlier mention as head"),
        ("R1\tmet_with Arg1:T1 Arg2:T1\n", "to itself"),
        ("T4\tLOC 47 54\tLipetsk\nR1\tworks_for Arg1:T1 Arg2:T4\n", "different sentences"),
    ],
)
def test_each_error_is_reported_with_its_line(write_pair, schema, extra, message):
    found = problems(write_pair, schema, GOOD + extra)
    errors = [(line, reason) for line, severity, reason in found if severity == "error"]
    assert len(errors) == 1, found
    last_line = len((GOOD + extra).splitlines())  # each case's faulty line is its last
    assert errors[0][0] == last_line and message in errors[0][1]


def test_repeated_relation_and_empty_text_are_warnings(write_pair, schema):
    found = problems(write_pair, schema, GOOD + "R1\tmet_with Arg1:T1 Arg2:T2\nR2\tmet_with Arg1:T1 Arg2:T2\n")
    assert found == [(5, "warning", "relation R2 repeats line 4")]
    empty = validate_document(read_document(write_pair("e", "  \n", "")), schema)[0]
    assert [(p.severity, p.reason) for p in empty] == [("warning", "empty document")]


def test_invalid_data_stops_with_every_error(write_pair, schema, tmp_path):
    write_pair("a", TEXT, GOOD + "T4\tLOC 47 52\tLipet\n")
    write_pair("b", TEXT, GOOD + "R1\tmet_with Arg1:T2 Arg2:T1\n")
    with pytest.raises(ValidationError) as err:
        read_brat_records(tmp_path, schema)
    assert len(err.value.problems) == 2
    assert "a.ann:4" in str(err.value) and "b.ann:4" in str(err.value)


def test_the_seed_annotations_pass_and_use_every_type(schema, capsys):
    assert main([str(SEEDS)]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    entities, relations = label_counts(read_folder(SEEDS))
    assert set(entities) == set(schema.entity_labels)
    assert set(relations) == set(schema.relation_labels[1:])


def test_seed_texts_are_verbatim_copies():
    shared = SEEDS.parents[1] / "shared" / "seeds"
    if not shared.exists():
        pytest.skip("shared/seeds not beside the project")
    for original in shared.glob("*.txt"):
        assert (SEEDS / original.name).read_bytes() == original.read_bytes()


def test_validate_cli_fails_on_errors(write_pair, schema, tmp_path, capsys):
    schema.save(tmp_path / "schema.json")
    write_pair("a", TEXT, GOOD + "T4\tLOC 47 52\tLipet\n")
    assert main([str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "a.ann:4: error:" in captured.err and Counter(captured.out.split())["error(s),"] == 1


def test_text_without_annotations_is_a_warning(write_pair, schema):
    found = problems(write_pair, schema, "")
    assert [(s, r.split(" (")[0]) for _, s, r in found] == [("warning", "no annotations")]


def test_non_utf8_annotation_file_names_the_file(write_pair, tmp_path):
    txt = write_pair("d", TEXT, "")
    txt.with_suffix(".ann").write_bytes(b"T1\tPER 0 14\tDenis Mantur\xf6v\n")
    with pytest.raises(AnnotationError, match="d.ann: not valid UTF-8"):
        read_document(txt)


def test_cli_counts_per_split_and_rejects_one_text_in_two_splits(write_pair, schema, tmp_path, capsys):
    schema.save(tmp_path / "schema.json")
    write_pair("a", TEXT, GOOD)
    write_pair("b", TEXT + "\n", GOOD.replace("T3\tLOC 37 45\tDushanbe\n", ""))  # same words
    write_pair("c", "Lipetsk hosted the forum.", "T1\tLOC 0 7\tLipetsk\n")
    assert main([str(tmp_path), "--split", "test=b"]) == 1
    captured = capsys.readouterr()
    assert "a.ann: error: document a (rest) has the same text as b (test)" in captured.err
    assert "rest: 2 documents, 4 entities, 0 relations" in captured.out
    assert "test: 1 documents, 2 entities, 0 relations" in captured.out
    assert main([str(tmp_path), "--split", "train=a,b", "--split", "test=c"]) == 0  # within a split: a warning
    assert "b.ann: warning: document b repeats the text of a (both in train)" in capsys.readouterr().err
    assert main([str(tmp_path), "--split", "test=zzz"]) == 1
    assert "unknown document 'zzz'" in capsys.readouterr().err


def data_config(folder, *overrides):
    from tests.conftest import compose_config

    return compose_config(
        "train",
        [
            "debug=fast",
            f"data.path={folder}",
            f"data.schema={SEEDS / 'schema.json'}",
            "paths.output_dir=/tmp/unused",
            "data.mention_replacement=0",
            *overrides,
        ],
    )


def test_training_data_check_stops_on_errors_and_logs_warnings(write_pair, tmp_path, caplog):
    from ie.training.prepare import load_data, prepare_data

    write_pair("a", TEXT, GOOD + "R1\tmet_with Arg1:T1 Arg2:T2\nR2\tmet_with Arg1:T1 Arg2:T2\n")
    write_pair("b", TEXT, GOOD)
    with pytest.raises(ValidationError, match="b.*same text as a"):
        load_data(data_config(tmp_path, "data.splits.test=[b]"))
    write_pair("b", "Lipetsk hosted the forum.", "T1\tLOC 0 7\tLipetsk\nT2\tCITY 8 14\thosted\n")
    with pytest.raises(ValidationError, match="b.ann:2: error: unknown entity label 'CITY'"):
        load_data(data_config(tmp_path, "data.splits.test=[b]"))
    write_pair("b", "Lipetsk hosted the forum.", "T1\tLOC 0 7\tLipetsk\n")
    run = tmp_path / "run"
    run.mkdir()
    data = prepare_data(data_config(tmp_path, "data.splits.test=[b]"), run)
    assert "a.ann:5: warning: relation R2 repeats line 4" in caplog.text
    report = json.loads((run / "data_report.json").read_text())
    assert report["warnings"] == [f"{tmp_path / 'a.ann'}:5: warning: relation R2 repeats line 4"]
    assert report["fingerprint"] == data.fingerprint
    assert report["splits"]["train"]["entities"]["PER"] == 2 and report["splits"]["train"]["relations"]["met_with"] == 1
    assert report["splits"]["test"]["entities"]["LOC"] == 1
