"""Bring your own data: Label Studio, doccano, spaCy DocBin and CoNLL BIO, read for training and written
by ie.convert and ie.predict. brat -> each format -> brat keeps what the format can hold; each tool's own
documented export shape reads; bad files are one-line errors naming the file and the task or line, and a
failed conversion writes nothing."""

import json
import subprocess
import sys

import pytest

from ie.data.convert import convert
from ie.data.formats import FORMATS
from ie.data.problems import AnnotationError, ValidationError
from ie.data.readers import load_records
from ie.errors import ConfigError
from ie.inference.batch import run_predictions
from ie.inference.inputs import InputDocument, InputError
from ie.inference.predictor import Predictor

from tests.conftest import ROOT, SEEDS

SEGMENTER = "spacy_keep_hyphens"


def _relations_kept(docs):
    """Entities (offsets, label, text) and relations (argument offsets, label) of each document, with its text."""
    out = []
    for doc in docs:
        where = {e.id: (e.start, e.end) for e in doc.entities}
        out.append(
            (
                doc.id,
                doc.text,
                sorted((e.start, e.end, e.label, e.text) for e in doc.entities),
                sorted((where[r.head], where[r.tail], r.label) for r in doc.relations),
            )
        )
    return out


def _entity_words(records):
    """Per document, each entity as its label and words: what a token format holds."""
    return {
        doc_id: [(label, " ".join(r.words[a:b])) for r in recs for a, b, label in r.entities]
        for doc_id, recs in records.items()
    }


@pytest.fixture(scope="module")
def seeds_docs():
    return FORMATS["brat"].read(SEEDS)


@pytest.mark.parametrize("name", ["label_studio", "doccano"])
def test_brat_to_a_relation_format_and_back_is_the_same_corpus(name, seeds_docs, tmp_path, schema):
    convert(str(SEEDS), "brat", str(tmp_path / "out"), name)
    convert(str(tmp_path / "out"), name, str(tmp_path / "back"), "brat", schema=str(SEEDS / "schema.json"))
    back = FORMATS["brat"].read(tmp_path / "back")
    assert _relations_kept(back) == _relations_kept(seeds_docs)
    assert sum(len(d.relations) for d in back) == 103
    # training reads the tool's file directly, into the very records it reads from brat
    assert load_records(name, tmp_path / "out", schema, segmenter=SEGMENTER) == load_records(
        "brat", SEEDS, schema, segmenter=SEGMENTER
    )


@pytest.mark.parametrize("name", ["spacy", "conll"])
def test_brat_to_a_token_format_keeps_every_entity_and_refuses_to_drop_relations_silently(name, tmp_path, schema):
    with pytest.raises(
        ConfigError,
        match=f"output_format={name} holds entities only, and the input has 103 relations: set drop_relations=true",
    ):
        convert(str(SEEDS), "brat", str(tmp_path / "out"), name)
    assert not (tmp_path / "out").exists()
    counts = convert(str(SEEDS), "brat", str(tmp_path / "out"), name, drop_relations=True)
    assert counts == {"documents": 5, "entities": 213, "relations": 0, "relations_dropped": 103}
    convert(str(tmp_path / "out"), name, str(tmp_path / "back"), "brat", schema=str(SEEDS / "schema.json"))
    expected = _entity_words(load_records("brat", SEEDS, schema, segmenter=SEGMENTER))
    assert _entity_words(load_records(name, tmp_path / "out", schema, segmenter=SEGMENTER)) == expected
    assert _entity_words(load_records("brat", tmp_path / "back", schema, segmenter=SEGMENTER)) == expected
    if name == "spacy":  # a DocBin keeps the text exactly, whitespace included
        texts = {d.id: d.text for d in FORMATS["spacy"].read(tmp_path / "out")}
        assert texts == {d.id: d.text for d in FORMATS["brat"].read(SEEDS)}


LABEL_STUDIO_EXPORT = [  # the shape of Label Studio's JSON export (labels + relation results)
    {
        "id": 12,
        "data": {"text": "Putin met Tokayev in Astana 😀 on Monday."},
        "annotations": [
            {
                "id": 3,
                "was_cancelled": False,
                "result": [
                    {
                        "id": "a1",
                        "from_name": "label",
                        "to_name": "text",
                        "type": "labels",
                        "origin": "manual",
                        "value": {"start": 0, "end": 5, "text": "Putin", "labels": ["PER"]},
                    },
                    {
                        "id": "a2",
                        "from_name": "label",
                        "to_name": "text",
                        "type": "labels",
                        "value": {"start": 10, "end": 17, "text": "Tokayev", "labels": ["PER"]},
                    },
                    {
                        "id": "a3",
                        "from_name": "label",
                        "to_name": "text",
                        "type": "labels",  # after the emoji: UTF-16 units
                        "value": {"start": 34, "end": 40, "text": "Monday", "labels": ["DATE"]},
                    },
                    {"from_id": "a2", "to_id": "a1", "type": "relation", "direction": "left", "labels": ["met_with"]},
                    {
                        "id": "c",
                        "from_name": "sentiment",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["x"]},
                    },
                ],
            }
        ],
        "predictions": [],
    },
    {"id": 13, "data": {"text": "Not yet annotated."}, "annotations": []},
]


def test_a_label_studio_export_reads(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(LABEL_STUDIO_EXPORT), encoding="utf-8")
    (doc,) = FORMATS["label_studio"].read(path)  # the unannotated task is skipped (and logged)
    assert doc.id == "12"
    assert [(e.label, e.text) for e in doc.entities] == [("PER", "Putin"), ("PER", "Tokayev"), ("DATE", "Monday")]
    ((rel),) = doc.relations
    assert (rel.label, doc.entity(rel.head).text, doc.entity(rel.tail).text) == ("met_with", "Putin", "Tokayev")


def test_doccano_exports_of_both_project_kinds_read(tmp_path):
    path = tmp_path / "doccano.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": 8,
                "text": "Manturov visited Lipetsk.",
                "entities": [
                    {"id": 11, "label": "PER", "start_offset": 0, "end_offset": 8},
                    {"id": 12, "label": "LOC", "start_offset": 17, "end_offset": 24},
                ],
                "relations": [{"id": 3, "from_id": 11, "to_id": 12, "type": "located_in"}],
                "Comments": [],
            }
        )
        + "\n"
        + json.dumps({"id": 9, "text": "Rahmon spoke.", "label": [[0, 6, "PER"]]})
        + "\n",
        encoding="utf-8",
    )
    first, second = FORMATS["doccano"].read(path)
    assert (first.id, [(e.label, e.text) for e in first.entities]) == ("8", [("PER", "Manturov"), ("LOC", "Lipetsk")])
    assert [(r.label, first.entity(r.head).text) for r in first.relations] == [("located_in", "Manturov")]
    assert (second.id, [(e.label, e.text) for e in second.entities], second.relations) == ("9", [("PER", "Rahmon")], [])


def test_a_conll_2003_file_reads_with_its_own_words(tmp_path):
    path = tmp_path / "eng.conll"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n"
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n-DOCSTART- -X- -X- O\n\n"
        "U.N. NNP I-NP I-ORG\nofficial NN I-NP O\n",
        encoding="utf-8",
    )
    first, second = FORMATS["conll"].read(path)
    assert (first.id, second.id) == ("eng-1", "eng-2")
    assert [(e.label, e.text) for e in first.entities] == [
        ("ORG", "EU"),
        ("MISC", "German"),
        ("PER", "Peter Blackburn"),
    ]
    assert [(e.label, e.text) for e in second.entities] == [("ORG", "U.N.")]  # IOB1: I- opens an entity
    assert [[t.text for t in s.tokens] for s in first.sentences] == [
        ["EU", "rejects", "German"],
        ["Peter", "Blackburn"],
    ]


def test_a_docbin_made_by_spacy_reads(tmp_path):
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    doc = nlp("Denis Manturov visited Bishkek.")
    doc.ents = [doc.char_span(0, 14, label="PER"), doc.char_span(23, 30, label="LOC")]
    DocBin(docs=[doc]).to_disk(tmp_path / "train.spacy")
    (read,) = FORMATS["spacy"].read(tmp_path / "train.spacy")
    assert (read.id, read.text) == ("train-1", "Denis Manturov visited Bishkek.")
    assert [(e.label, e.text) for e in read.entities] == [("PER", "Denis Manturov"), ("LOC", "Bishkek")]


def _label_studio(entities, relations=()):
    return json.dumps(
        [
            {
                "id": 5,
                "data": {"text": "Putin met Tokayev."},
                "annotations": [
                    {
                        "result": [
                            *[
                                {"id": i, "type": "labels", "value": {"start": a, "end": b, "labels": [label]}}
                                for i, a, b, label in entities
                            ],
                            *[
                                {"type": "relation", "from_id": h, "to_id": t, "labels": [label]}
                                for h, t, label in relations
                            ],
                        ]
                    }
                ],
            }
        ]
    )


@pytest.mark.parametrize(
    "fmt, content, message",
    [
        (
            "label_studio",
            _label_studio([("a", 0, 5, "PER")], [("a", "zz", "met_with")]),
            "export.json: task 5 (item 0), result 1: relation to_id 'zz' is no labelled span of this annotation",
        ),
        (
            "label_studio",
            _label_studio([("a", 0, 50, "PER")]),
            "export.json: task 5 (item 0), result 0: offsets 0-50 outside the text (length 18)",
        ),
        ("label_studio", _label_studio([("a", 0, 5, "PER")])[:-9], "export.json:1: invalid JSON"),
        (
            "doccano",
            '{"text": "Putin.", "entities": [{"id": 1, "label": "PER", "start_offset": 0, "end_offset": 5}], '
            '"relations": [{"id": 1, "from_id": 1, "to_id": 2, "type": "met_with"}]}\n',
            "export.json:1: relation 1: to_id 2 is no entity of this line",
        ),
        ("doccano", '{"text": "Putin.", "label": [[0, 5, "PER"]]}\n{"text": "Tok', "export.json:2: invalid JSON"),
        ("conll", "Putin\tB-PER\nmet\tO\nTokayev\tX-PER\n", "export.json:3: tag 'X-PER' is not O, B-LABEL or I-LABEL"),
        ("spacy", "not a docbin", "export.json: not a readable spaCy DocBin"),
    ],
)
def test_a_bad_file_is_one_error_naming_file_and_task_or_line(tmp_path, fmt, content, message):
    path = tmp_path / "export.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AnnotationError) as error:
        FORMATS[fmt].read(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_an_unknown_label_is_a_validation_error_naming_the_task(tmp_path, schema):
    path = tmp_path / "export.json"
    path.write_text(_label_studio([("a", 0, 5, "PERSON")]), encoding="utf-8")
    with pytest.raises(
        ValidationError,
        match=r"export.json\[task 5 \(item 0\)\]: error: unknown entity label "
        r"'PERSON'",
    ):
        load_records("label_studio", path, schema)


def test_the_convert_cli_fails_in_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "export.json").write_text(_label_studio([("a", 0, 5, "PERSON")]), encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "ie.convert",
        f"input={tmp_path / 'export.json'}",
        "input_format=label_studio",
        f"output={tmp_path / 'out'}",
        "output_format=brat",
        f"schema={SEEDS / 'schema.json'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "ie.convert: error: 1 annotation error(s):" in proc.stderr and "unknown entity label 'PERSON'" in proc.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    (tmp_path / "taken.json").write_text("[]")
    with pytest.raises(ConfigError, match="taken.json exists"):
        convert(str(SEEDS), "brat", str(tmp_path / "taken.json"), "label_studio")
    with pytest.raises(ConfigError, match="output_format: unknown format 'prodigy'"):
        convert(str(SEEDS), "brat", str(tmp_path / "x"), "prodigy")


def test_predictions_as_label_studio_pre_annotations_with_scores(run_dir, tmp_path):
    predictor = Predictor.from_pretrained(run_dir)
    text = (SEEDS / "004_8167059eeef70516.txt").read_text(encoding="utf-8")[:1500]
    docs = [InputDocument("a", text, "test"), InputDocument("b", "", "test")]
    out = tmp_path / "tasks.json"
    run_predictions(predictor, docs, str(out), "label_studio", model_version="ie:tiny")
    tasks = json.loads(out.read_text(encoding="utf-8"))
    expected = predictor(text)
    assert expected.entities and expected.relations  # the tiny model predicts both: the test has content
    (prediction,) = tasks[0]["predictions"]
    spans = [r for r in prediction["result"] if r["type"] == "labels"]
    assert [(r["value"]["labels"][0], r["value"]["start"], r["value"]["end"], r["score"]) for r in spans] == [
        (e.label, e.start, e.end, e.score) for e in expected.entities
    ]
    assert prediction["model_version"] == "ie:tiny" and len(spans) + len(expected.relations) == len(
        prediction["result"]
    )
    assert tasks[1]["data"] == {"text": "", "doc_id": "b"}
    with pytest.raises(AnnotationError, match="none of the 2 tasks has an annotation"):
        FORMATS["label_studio"].read(out)  # pre-annotations are not training data until someone corrects them
    with pytest.raises(InputError, match="tasks.json exists"):
        run_predictions(predictor, docs, str(out), "label_studio")


def test_predictions_to_a_token_format_need_drop_relations_with_a_relation_model(run_dir, tmp_path):
    predictor = Predictor.from_pretrained(run_dir)
    docs = [InputDocument("a", (SEEDS / "004_8167059eeef70516.txt").read_text(encoding="utf-8")[:800], "test")]
    with pytest.raises(InputError, match="format=conll holds entities only"):
        run_predictions(predictor, docs, str(tmp_path / "out.conll"), "conll")
    assert not (tmp_path / "out.conll").exists()
    run_predictions(predictor, docs, str(tmp_path / "out.conll"), "conll", drop_relations=True)
    (doc,) = FORMATS["conll"].read(tmp_path / "out.conll")
    assert [(e.label, e.text.replace(" ", "")) for e in doc.entities] == [
        (e.label, "".join(e.text.split())) for e in predictor(docs[0].text).entities
    ]


def test_the_training_config_reads_a_tool_export_with_the_seeds_splits(tmp_path, schema):
    from ie.data.corpus import load_corpus

    from tests.conftest import TEST_DOC, compose_config

    convert(str(SEEDS), "brat", str(tmp_path / "seeds.jsonl"), "doccano")
    cfg = compose_config("train", ["data.format=doccano", f"data.path={tmp_path / 'seeds.jsonl'}"])
    records, splits = load_corpus(cfg.data, schema)
    assert splits["test"] == [TEST_DOC] and len(splits["train"]) == 4
    assert records == load_records("brat", SEEDS, schema, segmenter=cfg.data.segmenter)


def test_ie_validate_checks_a_tool_export(tmp_path):
    convert(str(SEEDS), "brat", str(tmp_path / "tasks.json"), "label_studio")
    base = [sys.executable, "-m", "ie.validate", str(tmp_path / "tasks.json"), "--format", "label_studio"]
    proc = subprocess.run(
        base + ["--schema", str(SEEDS / "schema.json"), "--segmenter", SEGMENTER],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "all: 5 documents, 213 entities, 103 relations" in proc.stdout, proc.stderr
    proc = subprocess.run(base, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "no schema beside a single file; pass one with --schema PATH" in proc.stderr
