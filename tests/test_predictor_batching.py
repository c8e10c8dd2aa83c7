"""How the Predictor groups work: batches bounded by rows and padded tokens, sentences in chunks.
None of it may change a prediction."""

import random

import pytest

import ie.inference.predictor as predictor_module
from ie.inference.predictor import Predictor
from ie.inference.token_budget import token_budget_batches

from tests.conftest import rounded

TEXTS = [
    "Denis Manturov met Emomali Rahmon in Dushanbe on July 15.",
    "The Lipetsk Region and Khujand signed a roadmap. Sherali Kabir attended the forum.\nA second line.",
    "",
    "Roscongress organised the Russia-Tajikistan interregional conference in 2024. " * 12,
]


def test_batches_respect_rows_and_padded_tokens_and_keep_order():
    rng = random.Random(0)
    lengths = sorted(rng.randint(1, 300) for _ in range(500))
    items = list(range(len(lengths)))
    batches = list(token_budget_batches(items, lengths, size=32, max_tokens=2048))
    assert [i for b in batches for i in b] == items  # every item once, in order
    for b in batches:
        widest = max(lengths[i] for i in b)
        assert len(b) <= 32 and (len(b) * widest <= 2048 or len(b) == 1)
    assert list(token_budget_batches([], [], 32, 2048)) == []
    assert [list(b) for b in token_budget_batches([0, 1], [5000, 6000], 32, 2048)] == [[0], [1]]  # too long: alone


def test_batches_also_respect_pooled_ranges_times_width_where_asked():
    """backend=onnx pools pair and span ranges densely: its batches bound ranges x padded width."""
    rng = random.Random(1)
    lengths = sorted(rng.randint(8, 200) for _ in range(300))
    ranges = [rng.randint(0, 60) for _ in lengths]
    items = list(range(len(lengths)))
    batches = list(token_budget_batches(items, lengths, 32, 4096, ranges=ranges, max_range_tokens=3000))
    assert [i for b in batches for i in b] == items
    for b in batches:
        widest = max(lengths[i] for i in b)
        assert len(b) == 1 or (sum(ranges[i] for i in b) * widest <= 3000 and len(b) * widest <= 4096)
    assert len(batches) > len(list(token_budget_batches(items, lengths, 32, 4096)))  # it did bind


def test_chunks_and_batch_limits_do_not_change_predictions(run_dir, monkeypatch):
    reference = rounded(Predictor.from_pretrained(run_dir).predict(TEXTS))
    assert any(reference)
    monkeypatch.setattr(predictor_module, "SENTENCES_PER_CHUNK", 2)
    small = Predictor.from_pretrained(run_dir, max_batch_tokens=40)
    assert rounded(small.predict(TEXTS, batch_size=3)) == reference
    assert rounded([small(t) for t in TEXTS]) == reference


def test_max_batch_tokens_must_be_positive_and_defaults_to_the_same_memory_in_either_precision(run_dir):
    assert Predictor.from_pretrained(run_dir, precision="fp32").max_batch_tokens == 1024  # fp32: 4 bytes per activation
    assert Predictor.from_pretrained(run_dir, precision="bf16").max_batch_tokens == 2048
    with pytest.raises(ValueError, match="max_batch_tokens must be >= 1"):
        Predictor.from_pretrained(run_dir, max_batch_tokens=0)
