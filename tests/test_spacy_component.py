"""The spaCy component (ie/integrations/spacy.py, ``nlp.add_pipe("ie")``): what it writes on a Doc agrees with
the Predictor, batches in ``nlp.pipe``, survives ``nlp.to_disk``/``spacy.load`` without the run it was built
from, is found through the ``spacy_factories`` entry point, and reports bad settings in one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
import spacy
from spacy.tokens import Doc, DocBin

from ie.errors import ConfigError, IEError
from ie.inference.predictor import Predictor
from ie.inference.results import Entity, Prediction, Relation
from ie.integrations.spacy import SpanRelation, register_extensions
from ie.models.checkpoint import CheckpointError
from ie.runs import RunNotFoundError

from conftest import SEEDS, TEST_DOC

TEXTS = [
    "Denis Manturov met Emomali Rahmon in Dushanbe on July 15.",
    "The Ministry of Energy of Uzbekistan and Rosatom signed an agreement in Tashkent.",
    "",
    "Shavkat Mirziyoyev visited Moscow in May, where he met Vladimir Putin.",
    "Kazakhstan and Russia agreed on gas transit.",
]


def pipeline(run, **config):
    nlp = spacy.blank("en")
    nlp.add_pipe("ie", config={"run": str(run), **config})
    return nlp


def annotations(doc: Doc, key: str = "ie") -> list:
    """What a user reads off a Doc: the span group with its scores, doc.ents, and doc._.relations."""
    group = doc.spans[key]
    return [
        [(s.start_char, s.end_char, s.label_, round(score, 5)) for s, score in zip(group, group.attrs["scores"])],
        [(s.start_char, s.end_char, s.label_) for s in doc.ents],
        [(r.label, r.head.start_char, r.tail.start_char, round(r.score, 5)) for r in doc._.relations],
    ]


class FakePredictor:
    """Stands in for a loaded Predictor: the chosen Predictions, and a record of each predict call."""

    backends = {"ner": "fake", "re": "fake"}

    def __init__(self, by_text: dict[str, Prediction]):
        self.by_text, self.calls = by_text, []

    def predict(self, texts, batch_size=32):
        self.calls.append(list(texts))
        return [self.by_text.get(text, Prediction(text)) for text in texts]


@pytest.fixture
def fake_pipeline(run_dir, monkeypatch):
    """A pipeline whose component loads ``FakePredictor(by_text)`` instead of the run's checkpoints."""

    def make(by_text: dict[str, Prediction]):
        fake = FakePredictor(by_text)
        monkeypatch.setattr(Predictor, "from_pretrained", classmethod(lambda cls, *args, **kwargs: fake))
        return pipeline(run_dir), fake

    return make


def entity(text: str, word: str, label: str, score: float, occurrence: int = 0) -> Entity:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(word, start + 1)
    return Entity(label, start, start + len(word), word, score)


# --- against the real run -------------------------------------------------------------------------------


def test_the_doc_holds_the_predictors_entities_and_relations(run_dir):
    text = (SEEDS / f"{TEST_DOC}.txt").read_text(encoding="utf-8")
    expected = Predictor.from_pretrained(run_dir).predict([text])[0]
    assert expected.entities and expected.relations, "the tiny run predicts nothing here: the test would prove nothing"
    doc = pipeline(run_dir)(text)
    group = doc.spans["ie"]
    assert len(group) == len(expected.entities)  # every entity, overlapping or not, in the Predictor's order
    for span, score, want in zip(group, group.attrs["scores"], expected.entities):
        assert span.label_ == want.label and round(score, 5) == round(want.score, 5)
        assert span.start_char <= want.start and want.end <= span.end_char  # expanded to whole tokens
        assert len(doc.char_span(want.start, want.end, alignment_mode="expand")) == len(span)
    assert list(doc.ents) == spacy.util.filter_spans(list(group))
    position = {e: k for k, e in enumerate(expected.entities)}
    assert [(r.label, r.head, r.tail, round(r.score, 5)) for r in doc._.relations] == [
        (r.label, group[position[r.head]], group[position[r.tail]], round(r.score, 5)) for r in expected.relations
    ]
    assert all(isinstance(r, SpanRelation) for r in doc._.relations)


def test_pipe_batches_docs_into_one_predictor_call_and_matches_one_doc_at_a_time(run_dir):
    nlp = pipeline(run_dir)
    one_by_one = [annotations(nlp(text)) for text in TEXTS]
    predictor = nlp.get_pipe("ie").predictor
    calls = []
    real_predict = predictor.predict
    predictor.predict = lambda texts, **kwargs: calls.append(list(texts)) or real_predict(texts, **kwargs)
    batched = [annotations(doc) for doc in nlp.pipe(TEXTS, batch_size=2)]
    assert batched == one_by_one
    assert calls == [TEXTS[0:2], TEXTS[2:4], TEXTS[4:]]
    assert nlp.get_pipe("ie").predictor is predictor  # loaded once, kept


def test_a_saved_pipeline_carries_its_run_and_works_without_the_original(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    nlp = pipeline(run)
    before = [annotations(doc) for doc in nlp.pipe(TEXTS)]
    nlp.to_disk(tmp_path / "saved")
    shutil.rmtree(run)
    loaded = spacy.load(tmp_path / "saved")
    assert [annotations(doc) for doc in loaded.pipe(TEXTS)] == before
    copied = tmp_path / "saved" / "ie" / "run"
    assert loaded.get_pipe("ie").run == str(copied)
    names = {p.name for p in copied.iterdir()}
    assert {"config.yaml", "ner", "re"} <= names and not names & {"trainer", "logs"}  # no optimizer states
    loaded.to_disk(tmp_path / "saved")  # saved back onto its own copy
    assert [annotations(doc) for doc in spacy.load(tmp_path / "saved").pipe(TEXTS)] == before


def test_the_saved_copy_holds_the_onnx_export_only_where_the_backend_may_run_it(run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("trainer", "logs"))
    (run / "onnx").mkdir()
    (run / "onnx" / "manifest.json").write_text("{}", encoding="utf-8")
    for backend, has_export in (("auto", True), ("onnx", True), ("lean", False), ("transformers", False)):
        pipeline(run, backend=backend).to_disk(tmp_path / backend)
        assert (tmp_path / backend / "ie" / "run" / "onnx" / "manifest.json").is_file() == has_export, backend


def test_spacy_finds_the_factory_through_its_entry_point_without_importing_ie(run_dir, tmp_path):
    assert "ie.integrations.spacy:make_ie_component" in [
        e.value for e in entry_points(group="spacy_factories") if e.name == "ie"
    ]
    code = (
        "import sys, spacy\n"
        "assert 'ie' not in sys.modules\n"
        "nlp = spacy.blank('en')\n"  # spaCy imports every spacy_factories entry point here
        f"nlp.add_pipe('ie', config={{'run': {str(run_dir)!r}}})\n"
        "print(type(nlp.get_pipe('ie')).__module__, nlp('Putin met Rahmon.')._.relations is not None)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ie.integrations.spacy", "True"]


def test_empty_text_gives_an_empty_group_and_no_relations(run_dir):
    for doc in pipeline(run_dir).pipe(["", "  \n "]):
        assert list(doc.ents) == [] and list(doc.spans["ie"]) == [] and doc._.relations == []


def test_settings_reach_the_predictor_and_it_loads_once(run_dir, monkeypatch):
    seen = []

    def from_pretrained(cls, path, **kwargs):
        seen.append((str(path), kwargs))
        return FakePredictor({})

    monkeypatch.setattr(Predictor, "from_pretrained", classmethod(from_pretrained))
    nlp = pipeline(run_dir, backend="onnx", precision="int8", threads=1, spans_key="model")
    list(nlp.pipe(TEXTS))
    nlp("one more")
    assert seen == [(str(run_dir), {"precision": "int8", "backend": "onnx", "threads": 1})]
    assert nlp("Hi.").spans["model"].attrs == {"scores": [], "relations": []}


# --- the offsets, overlaps and relations, with chosen predictions ---------------------------------------


def test_offsets_expand_to_tokens_and_overlaps_stay_in_the_group_but_not_in_ents(fake_pipeline):
    text = "Denis Manturov met @Rahmon about U.S.-Uzbek gas."
    person = entity(text, "Denis Manturov", "PER", 0.9)
    inside = entity(text, "Mant", "ORG", 0.4)  # inside a token of person: expands onto it, overlaps it
    rahmon = entity(text, "Rahmon", "PER", 0.8)  # spaCy keeps "@Rahmon" as one token
    us, uzbek = entity(text, "U.S.", "LOC", 0.7), entity(text, "Uzbek", "LOC", 0.6)  # both in one spaCy token
    relations = [Relation("met_with", person, rahmon, 0.95), Relation("located_in", inside, uzbek, 0.3)]
    nlp, _ = fake_pipeline({text: Prediction(text, [person, inside, rahmon, us, uzbek], relations)})
    doc = nlp(text)
    group = doc.spans["ie"]
    assert [(s.text, s.label_) for s in group] == [
        ("Denis Manturov", "PER"),
        ("Manturov", "ORG"),
        ("@Rahmon", "PER"),
        ("U.S.-Uzbek", "LOC"),
        ("U.S.-Uzbek", "LOC"),
    ]
    assert group.attrs["scores"] == [0.9, 0.4, 0.8, 0.7, 0.6]
    # doc.ents: the longer of overlapping spans, the earlier of two as long
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Denis Manturov", "PER"),
        ("@Rahmon", "PER"),
        ("U.S.-Uzbek", "LOC"),
    ]
    assert doc._.relations == [
        SpanRelation("met_with", group[0], group[2], 0.95),
        SpanRelation("located_in", group[1], group[4], 0.3),
    ]


def test_no_entities_and_relations_survive_doc_serialisation(fake_pipeline):
    text, quiet = "Rosatom builds in Uzbekistan.", "Nothing to see."
    org, loc = entity(text, "Rosatom", "ORG", 0.9), entity(text, "Uzbekistan", "LOC", 0.8)
    nlp, fake = fake_pipeline({text: Prediction(text, [org, loc], [Relation("located_in", org, loc, 0.7)])})
    doc, empty = nlp.pipe([text, quiet])
    assert fake.calls == [[text, quiet]]
    assert list(empty.ents) == [] and empty._.relations == []
    assert nlp.make_doc(quiet)._.relations is None  # a Doc the component has not seen
    again = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    bin_ = DocBin()
    bin_.add(doc)
    from_bin = next(DocBin().from_bytes(bin_.to_bytes()).get_docs(nlp.vocab))
    for copy in (again, from_bin):
        assert [(r.label, r.head.text, r.tail.text, r.score) for r in copy._.relations] == [
            ("located_in", "Rosatom", "Uzbekistan", 0.7)
        ]
        assert [e.text for e in copy.ents] == ["Rosatom", "Uzbekistan"]


# --- bad input ------------------------------------------------------------------------------------------


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and isinstance(error.value, IEError)
    return message


def test_a_missing_run_or_one_without_ner_fails_in_one_line_naming_it(run_dir, tmp_path):
    with pytest.raises(ConfigError) as error:
        spacy.blank("en").add_pipe("ie")
    assert "run" in one_line(error)
    missing = tmp_path / "no_such_run"
    nlp = pipeline(missing)
    with pytest.raises(RunNotFoundError) as error:
        nlp("Putin met Rahmon.")
    assert str(missing) in one_line(error)
    relations_only = tmp_path / "re_only"
    relations_only.mkdir()
    shutil.copy2(run_dir / "config.yaml", relations_only / "config.yaml")
    shutil.copytree(run_dir / "re", relations_only / "re")
    with pytest.raises(CheckpointError) as error:
        pipeline(relations_only)("Putin met Rahmon.")
    assert str(relations_only) in one_line(error) and "ner/" in str(error.value)
    with pytest.raises(RunNotFoundError) as error:
        spacy.blank("en").add_pipe("ie", config={"run": str(run_dir)}).from_disk(tmp_path)
    assert str(tmp_path / "run") in one_line(error)


@pytest.mark.parametrize(
    "config, named",
    [
        ({"backend": "torch"}, "backend"),
        ({"precision": "fp16"}, "precision"),
        ({"threads": 0}, "threads"),
        ({"batch_size": 0}, "batch_size"),
        ({"spans_key": ""}, "spans_key"),
    ],
)
def test_bad_settings_fail_when_the_pipe_is_added(run_dir, config, named):
    with pytest.raises(ConfigError) as error:
        pipeline(run_dir, **config)
    assert named in one_line(error)


def test_bytes_are_refused_with_a_pointer_to_to_disk(run_dir):
    with pytest.raises(NotImplementedError, match="nlp.to_disk"):
        pipeline(run_dir).to_bytes()


def test_another_doc_relations_extension_is_an_error_not_replaced(run_dir):
    Doc.remove_extension("relations")
    Doc.set_extension("relations", default=[])
    try:
        with pytest.raises(ConfigError) as error:
            pipeline(run_dir)
        assert "Doc._.relations" in one_line(error)
        assert Doc.get_extension("relations")[0] == []  # the other definition is left as it was
    finally:
        Doc.remove_extension("relations")
        register_extensions()
