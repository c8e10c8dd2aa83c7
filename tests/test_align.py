import pytest
from transformers import AutoTokenizer

from ie.config import _packaged_encoder
from ie.data.text import SpanLocator, split_sentences
from ie.encoding.align import (
    IGNORE_INDEX,
    WordPieces,
    encode_windows,
    first_subword_labels,
    owners,
    plan_windows,
    special_tokens,
)


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(_packaged_encoder())


def test_sentences_and_words_keep_offsets():
    text = " date 2018-05-29 The forum opened.\n\nDenis Manturov met Emomali Rahmon. They talked"
    sentences = split_sentences(text)
    assert [text[s.start : s.end] for s in sentences] == [
        "date 2018-05-29 The forum opened.",
        "Denis Manturov met Emomali Rahmon.",
        "They talked",
    ]
    for s in sentences:
        assert all(text[t.start : t.end] == t.text for t in s.tokens)


def test_span_locator():
    text = "Tajikistan’s Chamber of Commerce met. Lipetsk CCI"
    locator = SpanLocator(split_sentences(text))
    assert locator.locate(0, 10).start == 0  # possessive ’s is its own word
    span = locator.locate(13, 32)
    assert (span.sentence, span.start, span.end) == (0, 2, 5)
    assert "not at a word boundary" in locator.locate(1, 10)
    assert "crosses a sentence boundary" in locator.locate(33, 45)


def test_first_subword_labels(tokenizer):
    words = ["Emomali", "Rahmon", "met", "Manturov"]
    (window,) = encode_windows(tokenizer, words, 64, 8)
    labels = first_subword_labels(window, [1, 2, 0, 1])
    firsts = window.first_subword_positions()
    assert [labels[firsts[w]] for w in range(4)] == [1, 2, 0, 1]
    assert sum(lab != IGNORE_INDEX for lab in labels) == 4  # specials and continuation pieces ignored
    assert window.input_ids[0] == tokenizer.cls_token_id and window.input_ids[-1] == tokenizer.sep_token_id


@pytest.mark.parametrize("odd", ["\u200b", "\x00", "\u0301", "\ufeff", "\u200b\u200d\x07"])
def test_word_without_subwords_gets_unknown_token(tokenizer, odd):
    words = ["Lipetsk", odd, "city"]
    pieces = WordPieces(tokenizer, words)
    assert pieces.pieces[1] == [tokenizer.unk_token_id]
    (window,) = encode_windows(tokenizer, words, 16, 4, pieces)
    assert set(window.first_subword_positions()) == {0, 1, 2}


@pytest.mark.parametrize(
    "lengths, budget, stride", [([1] * 10, 4, 2), ([3, 1, 1, 2, 4, 1], 4, 1), ([2] * 50, 7, 3), ([1] * 5, 10, 2)]
)
def test_windows_cover_every_word_once_as_owner(lengths, budget, stride):
    windows = plan_windows(lengths, budget, stride)
    for a, b in windows:
        assert sum(lengths[a:b]) <= budget
    owned = owners(windows)
    flat = [w for lo, hi in owned for w in range(lo, hi)]
    assert flat == list(range(len(lengths)))
    for (a, b), (lo, hi) in zip(windows, owned):
        assert a <= lo <= hi <= b


def test_long_sentence_reaches_the_last_word(tokenizer):
    words = ["cooperation"] * 5000 + ["Khujand"]
    windows = encode_windows(tokenizer, words, 64, 16)
    assert len(windows) > 1 and all(len(w.input_ids) <= 64 for w in windows)
    assert windows[-1].own_end == len(words)
    assert len(words) - 1 in windows[-1].first_subword_positions()
    prefix, suffix = special_tokens(tokenizer)
    assert windows[-1].input_ids[: len(prefix)] == tuple(prefix)
