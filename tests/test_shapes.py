"""Word shapes for the uncased encoder: the case classes, a model that starts exactly where the pretrained
encoder was, and a trained run whose Predictor (both backends) gives the model the case it was trained with."""

import json

import pytest
import torch

from ie.encoding.shapes import CASE, case_shape, token_types, word_shapes
from ie.inference.predictor import Predictor
from ie.models.modeling import build_ner_model, build_re_model

from tests.conftest import TINY, compose_config, rounded


@pytest.mark.parametrize(
    "word, shape",
    [
        ("chamber", "lower or none"),
        ("vice-president", "lower or none"),
        (",", "lower or none"),
        ("’s", "lower or none"),
        ("Chamber", "title"),
        ("Issyk-Kul", "title"),
        ("A", "title"),
        ("ASTANA", "upper"),
        ("JSC", "upper"),
        ("KazMunayGas", "mixed"),
        ("iPhone", "mixed"),
        ("2024", "digits"),
        ("15.06", "digits"),
        ("A320", "letters and digits"),
        ("COVID-19", "letters and digits"),
    ],
)
def test_case_classes(word, shape):
    assert CASE[case_shape(word)] == shape


def test_token_types_follow_the_words_and_give_special_positions_class_0():
    shapes = word_shapes(["The", "ASTANA", "forum"])
    assert shapes == [1, 2, 0] and token_types([None, 0, 1, 1, None, 2, None], shapes) == [0, 1, 2, 2, 0, 0, 0]


def test_a_model_with_shapes_starts_where_the_encoder_was(schema):
    """Every new token type row is a copy of the pretrained one: before training, shapes change nothing."""
    plain_cfg = compose_config("train", ["model=tiny", "paths.output_dir=/tmp/unused"]).model
    shaped_cfg = compose_config("train", ["model=tiny", "model.word_shapes=case", "paths.output_dir=/tmp/unused"]).model
    ids = torch.tensor([[101, 2000, 2001, 2002, 102]])
    types = torch.tensor([[0, 1, 2, 5, 0]])
    for build, extra in ((build_ner_model, {}), (build_re_model, {"vocab_size": 30522})):
        args = (schema.bio_tags,) if build is build_ner_model else (schema.relation_labels,)
        torch.manual_seed(0)
        plain = build(plain_cfg, *args, **extra).eval()
        torch.manual_seed(0)
        shaped = build(shaped_cfg, *args, **extra).eval()
        assert shaped.config.type_vocab_size == len(CASE)
        with torch.no_grad():
            a = plain.base_model(input_ids=ids).last_hidden_state
            b = shaped.base_model(input_ids=ids, token_type_ids=types).last_hidden_state
        torch.testing.assert_close(a, b)


@pytest.fixture(scope="module")
def shaped_run(tmp_path_factory):
    from ie.training.train import train

    out = tmp_path_factory.mktemp("shaped")
    train(compose_config("train", TINY + ["model.word_shapes=case", f"paths.output_dir={out}"]))
    return out


def test_a_run_with_shapes_records_them_and_the_predictor_uses_them(shaped_run):
    for task in ("ner", "re"):
        assert json.loads((shaped_run / task / "ie.json").read_text())["word_shapes"] == "case"
        assert json.loads((shaped_run / task / "config.json").read_text())["type_vocab_size"] == len(CASE)
    predictor = Predictor.from_pretrained(shaped_run)
    assert predictor.word_shapes == {"ner": "case", "re": "case"}
    sentences = [["Denis", "Manturov", "met", "RAHMON"], ["denis", "manturov", "met", "rahmon"]]
    upper, lower = predictor.word_tags(sentences)[1]
    assert upper != lower  # the uncased tokenizer gives both the same subwords: only the shapes differ


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_backends_agree_with_shapes(shaped_run, precision):
    texts = ["Denis Manturov met Emomali Rahmon in DUSHANBE on July 15.", "The Lipetsk Region signed a roadmap."]
    lean = Predictor.from_pretrained(shaped_run, backend="lean", precision=precision)
    hf = Predictor.from_pretrained(shaped_run, backend="transformers", precision=precision)
    assert set(lean.backends.values()) == {"lean"} and set(hf.backends.values()) == {"transformers"}
    assert rounded(lean.predict(texts)) == rounded(hf.predict(texts))
