"""The predict CLI and its readers and writers: inputs in every form, JSONL and brat out, and the
pre-annotation round trip predict -> brat -> ie.data.formats.brat reader -> the same entities and relations."""

import io
import json
import subprocess
import sys

import pytest

from ie.data.formats.brat import read_document
from ie.data.schema import Schema
from ie.inference.batch import run_predictions
from ie.inference.inputs import InputDocument, InputError, read_inputs
from ie.inference.predictor import Entity, Prediction, Predictor, Relation
from ie.inference.writers import brat_ann, prediction_record

from tests.conftest import ROOT, SEEDS, TEST_DOC

TEXT = "Denis Manturov met Emomali Rahmon in Dushanbe.\r\nThey signed a roadmap."


def _as_brat(prediction: Prediction):
    """Entities and relations of a prediction in the form ie.data.formats.brat reads them back."""
    ents = [(e.label, e.start, e.end, e.text) for e in prediction.entities]
    rels = [
        (r.label, prediction.entities.index(r.head), prediction.entities.index(r.tail)) for r in prediction.relations
    ]
    return ents, rels


def _read_back(txt_path):
    doc = read_document(txt_path)
    index = {e.id: i for i, e in enumerate(doc.entities)}
    return (
        doc,
        [(e.label, e.start, e.end, e.text) for e in doc.entities],
        [(r.label, index[r.head], index[r.tail]) for r in doc.relations],
    )


def test_brat_writer_round_trips_entities_relations_and_keeps_scores_as_notes(tmp_path):
    a, b = Entity("PER", 0, 14, "Denis Manturov", 0.91), Entity("PER", 19, 33, "Emomali Rahmon", 0.8)
    c = Entity("LOC", 37, 45, "Dushanbe", 0.5)
    prediction = Prediction(TEXT, [a, b, c], [Relation("met_with", a, b, 0.7), Relation("works_for", a, c, 0.2)])
    (tmp_path / "d.txt").write_bytes(TEXT.encode())
    ann = brat_ann(prediction)
    (tmp_path / "d.ann").write_text(ann)
    doc, ents, rels = _read_back(tmp_path / "d.txt")
    assert (ents, rels) == _as_brat(prediction)
    assert "#1\tAnnotatorNotes T1\tmodel score 0.910\n" in ann and "AnnotatorNotes R1\tmodel score 0.700" in ann


def test_inputs_files_folders_jsonl_and_stdin(tmp_path):
    (tmp_path / "one.txt").write_bytes(b"First line.\r\nSecond.")
    (tmp_path / "docs.jsonl").write_text('{"id": "x", "text": "A."}\n\n{"text": "B."}\n')
    docs = read_inputs([str(tmp_path / "one.txt"), str(tmp_path / "docs.jsonl")])
    assert [(d.id, d.text) for d in docs] == [("one", "First line.\r\nSecond."), ("x", "A."), ("docs-3", "B.")]
    assert [d.id for d in read_inputs(str(tmp_path))] == ["one"]  # a folder: its .txt files
    assert [d.id for d in read_inputs(str(tmp_path / "*.txt"))] == ["one"]
    stdin_jsonl = read_inputs("-", stdin=io.StringIO('{"id": 7, "text": "Lipetsk."}\n'))
    assert [(d.id, d.text) for d in stdin_jsonl] == [("7", "Lipetsk.")]
    assert read_inputs("-", stdin=io.StringIO("Plain {text}.\n"))[0].text == "Plain {text}.\n"


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"id": "a", "text": "x"}\nnot json\n', r"docs.jsonl:2: not JSON"),
        ('{"id": "a", "txt": "x"}\n', r'docs.jsonl:1: expected an object with a string "text"'),
        (
            '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n',
            r"docs.jsonl:2: document id 'a' repeats \(first at .*docs.jsonl:1\)",
        ),
        ('{"id": null, "text": "x"}\n', r'docs.jsonl:1: "id" must be'),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path, content, message):
    (tmp_path / "docs.jsonl").write_text(content)
    with pytest.raises(InputError, match=message):
        read_inputs(str(tmp_path / "docs.jsonl"))


def test_missing_input_and_unsafe_brat_ids_fail_clearly(tmp_path):
    with pytest.raises(InputError, match="nope.txt: no such file or folder"):
        read_inputs(str(tmp_path / "nope.txt"))
    with pytest.raises(InputError, match="pattern matches no file"):
        read_inputs(str(tmp_path / "*.txt"))
    docs = read_inputs("-", stdin=io.StringIO('{"id": "../evil", "text": "x"}\n'))
    with pytest.raises(InputError, match="'../evil' cannot be a file name"):
        run_predictions(None, docs, str(tmp_path / "out"), "brat")


def test_predict_cli_brat_round_trip_on_a_seed_article(run_dir, tmp_path):
    """Pre-annotation: the CLI writes brat files that ie.data.formats.brat reads back as exactly what the Predictor
    returned, next to a byte-exact copy of the text; existing annotations are never replaced."""
    out = tmp_path / "preannotated"
    source = SEEDS / f"{TEST_DOC}.txt"
    cmd = [
        sys.executable,
        "-m",
        "ie.predict",
        f"run={run_dir}",
        f"input={SEEDS}/004_*.txt",
        "format=brat",
        f"output={out}",
        "batch_size=8",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / f"{TEST_DOC}.txt").read_bytes() == source.read_bytes()
    assert "[entities]" in (out / "annotation.conf").read_text()
    assert Schema.load(out / "schema.json") == Predictor.from_pretrained(run_dir).schema
    expected = Predictor.from_pretrained(run_dir)(source.read_text(encoding="utf-8"))
    assert expected.entities and expected.relations  # the tiny model predicts both: the test has content
    _, ents, rels = _read_back(out / f"{TEST_DOC}.txt")
    assert (ents, rels) == _as_brat(expected)
    with pytest.raises(InputError, match="exists \\(annotations are never replaced without overwrite=true\\)"):
        run_predictions(None, read_inputs(str(source)), str(out), "brat")  # refused before predicting


def test_predict_cli_jsonl_from_stdin_to_stdout(run_dir):
    texts = {"a": TEXT, "b": "", "c": (SEEDS / f"{TEST_DOC}.txt").read_text(encoding="utf-8")[:700]}
    stdin = "".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in texts.items())
    proc = subprocess.run(
        [sys.executable, "-m", "ie.predict", f"run={run_dir}", "input=-", "progress=true"],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]  # stdout holds nothing but JSONL
    expected = Predictor.from_pretrained(run_dir).predict(list(texts.values()))
    assert lines == [prediction_record(k, p) for k, p in zip(texts, expected)]
    assert lines[2]["entities"] and {"label", "start", "end", "text", "score"} == set(lines[2]["entities"][0])
    for rel in lines[2]["relations"]:
        head = lines[2]["entities"][rel["head"]]
        assert texts["c"][head["start"] : head["end"]] == head["text"]
    assert "predict: 100%" in proc.stderr and "3 documents" in proc.stderr


def test_predict_config_rejects_misspelt_keys():
    from hydra.errors import ConfigCompositionException

    from tests.conftest import compose_config

    assert compose_config("predict", ["run=x"]).format == "jsonl"
    with pytest.raises(ConfigCompositionException):
        compose_config("predict", ["run=x", "outptu=y"])


def test_jsonl_file_output_appears_complete_or_not_at_all(run_dir, tmp_path):
    predictor = Predictor.from_pretrained(run_dir)
    out = tmp_path / "new" / "out.jsonl"  # the folder does not exist yet
    docs = [InputDocument("a", TEXT, "test"), InputDocument("b", "", "test")]
    assert run_predictions(predictor, docs, str(out))["documents"] == 2
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        prediction_record(d.id, p) for d, p in zip(docs, predictor.predict([d.text for d in docs]))
    ]
    assert not list(tmp_path.glob("new/*.partial"))

    class Failing:
        def predict(self, texts, batch_size):
            raise RuntimeError("killed half way")

    with pytest.raises(RuntimeError, match="killed half way"):
        run_predictions(Failing(), docs, str(tmp_path / "failed.jsonl"))
    assert not (tmp_path / "failed.jsonl").exists()
