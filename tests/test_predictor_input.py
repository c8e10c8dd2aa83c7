"""What the Predictor does with awkward input: a documented result or a clear error, never a crash
inside the tokenizer or torch. Random tiny models, no training: only the plumbing is under test."""

import pytest
import torch
from transformers import AutoTokenizer

from ie.config import _packaged_encoder
from ie.encoding.markers import add_marker_tokens
from ie.inference.predictor import Prediction, Predictor
from ie.models.modeling import build_ner_model, build_re_model

from tests.conftest import compose_config


@pytest.fixture(scope="module")
def predictor(schema):
    torch.manual_seed(0)
    model_cfg = compose_config("train", ["model=tiny", "paths.output_dir=/tmp/unused"]).model
    ner_tok, re_tok = (
        AutoTokenizer.from_pretrained(_packaged_encoder()),
        AutoTokenizer.from_pretrained(_packaged_encoder()),
    )
    add_marker_tokens(re_tok, schema.entity_labels)
    return Predictor(
        schema,
        build_ner_model(model_cfg, schema.bio_tags),
        ner_tok,
        build_re_model(model_cfg, schema.relation_labels, len(re_tok)),
        re_tok,
        ner_max_length=32,
        ner_stride=8,
        re_max_length=32,
    )


TEXTS = {
    "control characters": "Denis\x00 Manturov\x07 met\x1b[31m Rahmon\x7f in\x0b Dushanbe\x0c.",
    "zero-width only": "\u200b\u200b",
    "zero-width and BOM": "\ufeffDenis\u200b Manturov \u200c\u200d met \u2060Rahmon.",
    "combining marks alone": "\u0301 Cafe\u0301 \u0301\u0301 Lipetsk e\u0301\u0301",
    "emoji": "Putin 🇷🇺🤝🇹🇯 Rahmon 👍🏽 in Dushanbe 😀",
    "Cyrillic": "Денис Мантуров встретился с Эмомали Рахмоном в Душанбе.",
    "CJK": "普京与拉赫蒙在杜尚别会面。習近平 東京",
    "Arabic (right to left)": "التقى بوتين مع رحمن في دوشنبه",
    "HTML": "<p>Denis <b>Manturov</b> met&nbsp;Rahmon</p><script>alert('x')</script>",
    "odd line breaks": "Denis Manturov\r\nmet Rahmon\r\r\n\u2028in Dushanbe\u2029.",
    "one very long word": "Khujand" * 2000,
}


@pytest.mark.parametrize("name", TEXTS)
def test_odd_text_is_read_and_offsets_index_the_callers_string(predictor, name):
    text = TEXTS[name]
    result = predictor(text)
    assert result.text == text
    for ent in result.entities:
        assert text[ent.start : ent.end] == ent.text and ent.text.strip() == ent.text and ent.text
    for rel in result.relations:
        assert rel.head in result.entities and rel.tail in result.entities


@pytest.mark.parametrize("text", ["", " ", "\n\t\r ", "\u00a0\u2028\u2029\u3000"])
def test_empty_and_blank_text_give_an_empty_prediction(predictor, text):
    assert predictor(text) == Prediction(text)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (None, TypeError, r"texts\[0\] is NoneType, expected str"),
        (42, TypeError, r"texts\[0\] is int"),
        (b"Denis Manturov", TypeError, r"texts\[0\] is bytes"),
        (["Denis"], TypeError, r"texts\[0\] is list"),
        ("Denis \ud800 Manturov", ValueError, r"not valid Unicode: lone surrogate '\\ud800' at index 6"),
        ("x" * 1_000_000, ValueError, r"1,000,000 characters, more than max_chars=200,000"),
    ],
)
def test_bad_input_raises_a_clear_error(predictor, bad, error, message):
    with pytest.raises(error, match=message):
        predictor(bad)


def test_a_list_is_checked_item_by_item(predictor):
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        predictor.predict(["Denis Manturov", None])
    with pytest.raises(TypeError, match="list of strings, got str"):
        predictor.predict("Denis Manturov")


def test_max_chars_is_configurable_and_can_be_lifted(predictor):
    text = "Denis Manturov met Emomali Rahmon. " * 10
    predictor.max_chars = 100
    try:
        with pytest.raises(ValueError, match="350 characters, more than max_chars=100"):
            predictor(text)
        predictor.max_chars = None
        assert predictor(text).text == text
    finally:
        predictor.max_chars = 200_000
    with pytest.raises(ValueError, match="max_chars must be >= 1"):
        Predictor(predictor.schema, predictor.ner_model, predictor.ner_tokenizer, max_chars=0)
