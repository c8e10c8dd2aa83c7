"""Span NER (model.ner_head=span): which spans are candidates, how they are labelled and decoded, and
that a span checkpoint serves through the Predictor like a token one, on both backends."""

import json
import logging

import pytest
import torch
from datasets import ClassLabel, Dataset, Features, List, Value
from transformers import AutoTokenizer

from ie.config import _packaged_encoder
from ie.encoding.align import encode_windows
from ie.encoding.spans import candidate_spans, collate_spans
from ie.errors import ConfigError
from ie.inference.decoding import greedy_spans
from ie.inference.predictor import Predictor
from ie.models import lean_bert
from ie.models.span_ner import SpanNerModel
from ie.training.collators import as_tensors
from ie.training.features import ner_span_features

from tests.conftest import TINY, compose_config, rounded

TEXT = "Denis Manturov met Emomali Rahmon in Dushanbe on July 15. The Lipetsk Region signed a roadmap."


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(_packaged_encoder())


def test_every_span_up_to_the_width_is_a_candidate_once_across_overlapping_windows(tokenizer):
    words = [f"w{i}" for i in range(120)]
    windows = encode_windows(tokenizer, words, 48, 16)
    assert len(windows) > 2
    spans = [(i, j) for window in windows for i, j, *_ in candidate_spans(window, 4)]
    assert len(spans) == len(set(spans))  # no span scored by two windows
    ends = {i: window.word_end for window in windows for i in range(window.own_start, window.own_end)}
    assert set(spans) == {(i, j) for i in range(len(words)) for j in range(i + 1, min(i + 4, ends[i]) + 1)}
    assert ends[len(words) - 1] == len(words)
    for window in windows:
        for i, j, first, last in candidate_spans(window, 4):
            assert window.word_ids[first] == i and window.word_ids[last] == j - 1
            assert window.word_ids[last + 1] != j - 1  # the span's last subword, not its first


def _dataset(words, entities):
    features = Features(
        {
            "doc_id": Value("string"),
            "words": List(Value("string")),
            "entities": List(
                {"start": Value("int32"), "end": Value("int32"), "label": ClassLabel(names=["PER", "LOC"])}
            ),
        }
    )
    return Dataset.from_dict({"doc_id": ["d"], "words": [words], "entities": [entities]}, features=features)


def test_a_gold_span_is_labelled_with_its_type_and_every_other_span_none(tokenizer, caplog):
    words = "Denis Manturov met officials of the Republic of Tajikistan yesterday".split()
    entities = [{"start": 0, "end": 2, "label": 0}, {"start": 6, "end": 9, "label": 1}]  # PER, a 3-word LOC
    (row,) = ner_span_features(_dataset(words, entities), tokenizer, 64, 16, max_words=3)
    labelled = {tuple(b): y for b, y in zip(row["span_bounds"], row["labels"]) if y}
    assert sorted(labelled.values()) == [1, 2] and len(row["labels"]) == len(row["span_widths"])
    with caplog.at_level(logging.WARNING):
        (row,) = ner_span_features(_dataset(words, entities), tokenizer, 64, 16, max_words=2)
    assert sorted(y for y in row["labels"] if y) == [1]  # the 3-word LOC is no candidate of width 2 ...
    assert "1 entities" in caplog.text and "max_span_words=2" in caplog.text  # ... and the log says so


def test_collated_spans_point_into_their_own_row():
    rows = [
        {"input_ids": [101, 7, 8, 102], "span_bounds": [[1, 1], [1, 2]], "span_widths": [1, 2], "labels": [0, 1]},
        {"input_ids": [101, 9, 102], "span_bounds": [[1, 1]], "span_widths": [1], "labels": [2]},
    ]
    batch = collate_spans(rows, pad_id=0, multiple=8)
    assert batch["input_ids"].shape == (2, 8) and batch["span_rows"].tolist() == [0, 0, 1]
    assert batch["span_bounds"].tolist() == [[1, 1], [1, 2], [1, 1]] and batch["labels"].tolist() == [0, 1, 2]


def test_greedy_decoding_keeps_the_more_probable_of_overlapping_spans():
    candidates = [(0, 2, "PER", 0.6), (1, 3, "ORG", 0.9), (3, 4, "LOC", 0.5), (0, 1, "PER", 0.55)]
    assert greedy_spans(candidates) == [(0, 1, "PER", 0.55), (1, 3, "ORG", 0.9), (3, 4, "LOC", 0.5)]
    assert greedy_spans([]) == []


def test_span_and_token_decoders_are_not_interchangeable(span_run_dir, run_dir, tmp_path):
    with pytest.raises(ConfigError, match="greedy_spans.*for a span NER head"):
        Predictor.from_pretrained(span_run_dir, decoding="viterbi")
    with pytest.raises(ConfigError, match="for a token NER head"):
        Predictor.from_pretrained(run_dir, decoding="greedy_spans")
    with pytest.raises(ConfigError, match="for a span NER head"):
        from ie.training.train import train

        train(
            compose_config(
                "train",
                TINY
                + ["task=ner", "model.ner_head=span", "trainer.ner.decoding=viterbi", f"paths.output_dir={tmp_path}"],
            )
        )
    assert not any(tmp_path.iterdir())  # refused before anything was written
    with pytest.raises(ConfigError, match="model.ner_head: expected one of token, span"):
        train(compose_config("train", TINY + ["model.ner_head=spans", f"paths.output_dir={tmp_path}"]))


def test_a_span_checkpoint_records_its_head_and_is_read_with_it(span_run_dir):
    info = json.loads((span_run_dir / "ner" / "ie.json").read_text())
    assert (info["ner_head"], info["max_span_words"], info["decoding"]) == ("span", 10, "greedy_spans")
    predictor = Predictor.from_pretrained(span_run_dir)
    assert (predictor.ner_head, predictor.decoding, predictor.backends) == ("span", "greedy_spans", {"ner": "lean"})
    tags, probs = predictor.word_tags([TEXT.split()])
    assert len(tags[0]) == len(probs[0]) == len(TEXT.split()) and all(0 < p <= 1 for p in probs[0])


def test_lean_span_classifier_logits_equal_transformers(span_run_dir):
    theirs = SpanNerModel.from_pretrained(span_run_dir / "ner").eval()
    ours = lean_bert.load(span_run_dir / "ner")
    rows = [
        {"input_ids": [101, 2000, 2001, 2002, 102], "span_bounds": [[1, 1], [1, 3], [2, 3]], "span_widths": [1, 3, 2]},
        {"input_ids": [101, 2005, 102], "span_bounds": [[1, 1]], "span_widths": [1]},
    ]
    batch = as_tensors(collate_spans(rows, 0, multiple=8))
    with torch.inference_mode():
        torch.testing.assert_close(ours(**batch).logits, theirs(**batch).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_backends_give_the_same_span_predictions(span_run_dir, precision):
    lean = Predictor.from_pretrained(span_run_dir, precision=precision)
    reference = Predictor.from_pretrained(span_run_dir, backend="transformers", precision=precision)
    assert reference.backends == {"ner": "transformers"}
    texts = [TEXT, "", TEXT * 20]
    assert rounded(lean.predict(texts)) == rounded(reference.predict(texts))
