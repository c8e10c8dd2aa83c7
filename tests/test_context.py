"""Document context for NER (trainer.ner.context): neighbouring sentences of the same document around a
sentence's window, without labels, in training, evaluation and the Predictor alike."""

import json

import pytest
from transformers import AutoTokenizer

from ie.config import _packaged_encoder
from ie.data.text import split_sentences
from ie.encoding.align import WordPieces, encode_windows, first_subword_labels, neighbour_context
from ie.inference.decoding import scored_entities
from ie.inference.predictor import Predictor

from tests.conftest import SEEDS, TEST_DOC, TINY, compose_config


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(_packaged_encoder())


def test_context_goes_around_a_sentence_that_fits_and_carries_no_label(tokenizer):
    sentences = [["Lipetsk", "hosted", "it", "."], ["Denis", "Manturov", "spoke", "."], ["Talks", "ended", "."]]
    pieces = WordPieces.many(tokenizer, sentences)
    around = neighbour_context(pieces, ["a", "a", "b"], size=3)
    assert around[0][0] == [] and around[2] == ([], [])  # no sentence before; the next is another document
    left, right = around[1]
    assert left == [i for p in pieces[0].pieces for i in p][-3:] and right == []
    (window,) = encode_windows(tokenizer, sentences[1], 16, 4, pieces[1], left, right)
    assert window.input_ids[1:4] == tuple(left) and window.word_ids[1:4] == (None, None, None)
    labels = first_subword_labels(window, [1, 2, 0, 0])
    assert labels[1:4] == [-100] * 3 and [x for x in labels if x != -100] == [1, 2, 0, 0]
    # 6 subwords + 2 special tokens in 10: room for 2 of the 6 offered, one each side
    (tight,) = encode_windows(tokenizer, sentences[1], 10, 4, pieces[1], left, [7, 7, 7])
    assert tight.input_ids.count(7) == 1 and tight.input_ids[1] == left[-1] and len(tight.input_ids) == 10
    long_windows = encode_windows(tokenizer, sentences[1] * 3, 8, 2, None, left, right)
    assert len(long_windows) > 1 and all(None not in w.word_ids[1:-1] for w in long_windows)  # no room: none


def test_a_run_with_context_reads_documents_the_same_way_everywhere(tmp_path):
    from ie.evaluation.predictions import read_predictions
    from ie.training.train import train

    train(
        compose_config(
            "train", TINY + ["trainer.ner.context=16", f"paths.output_dir={tmp_path}", "trainer.report_to=[]"]
        )
    )
    assert json.loads((tmp_path / "ner" / "ie.json").read_text())["context"] == 16
    predictor = Predictor.from_pretrained(tmp_path)
    assert predictor.ner_context == 16
    text = (SEEDS / f"{TEST_DOC}.txt").read_text(encoding="utf-8")
    sentences = split_sentences(text, predictor.segmenter)  # the words the run was trained and evaluated on
    words = [[t.text for t in s.tokens] for s in sentences]
    tags, probs = predictor.word_tags(words, documents=[TEST_DOC] * len(words))
    assert probs != predictor.word_tags(words)[1]  # the neighbours reach the model
    _, rows = read_predictions(tmp_path / "predictions_test.jsonl")  # evaluation at the end of training
    assert [row["pred_tags"] for row in rows] == tags
    spans = [
        (s.tokens[a].start, s.tokens[b - 1].end, label)
        for s, t, p in zip(sentences, tags, probs)
        for a, b, label, _ in scored_entities(t, p)
    ]
    assert [(e.start, e.end, e.label) for e in predictor(text).entities] == spans  # the Predictor reads the same
