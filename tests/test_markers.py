import random

import pytest
import torch
from transformers import AutoTokenizer, BertConfig

from ie.config import _packaged_encoder
from ie.data.dataset import candidate_pairs
from ie.encoding.align import WordPieces
from ie.encoding.markers import add_marker_tokens, collate_windows, encode_sentence, marked_spans, pairs_in_reach
from ie.models.modeling import MarkerRelationModel
from ie.models.pairs import between_max
from ie.training.collators import as_tensors


@pytest.fixture(scope="module")
def tok(schema):
    tokenizer = AutoTokenizer.from_pretrained(_packaged_encoder())
    assert add_marker_tokens(tokenizer, schema.entity_labels) == 2 * len(schema.entity_labels)
    return tokenizer


def test_every_entity_is_marked_once_and_pairs_point_at_their_opening_markers(schema, tok):
    words = ["Denis", "Manturov", "met", "Emomali", "Rahmon", "in", "Dushanbe", "."]
    spans = [(0, 2, "PER"), (3, 5, "PER"), (6, 7, "LOC")]
    pieces = WordPieces(tok, words)
    pairs, lost = pairs_in_reach(spans, schema, pieces, 64, tok)
    assert lost == 0 and set(pairs) == set(candidate_pairs(spans, schema))
    (window,) = encode_sentence(tok, pieces, spans, pairs, 64)
    text = tok.convert_ids_to_tokens(list(window.input_ids))
    assert text.count("<e:PER>") == 2 and text.count("</e:LOC>") == 1
    assert tok.convert_tokens_to_ids("<e:LOC>") != tok.unk_token_id  # one token each, never split
    for k, (open_at, close_at) in window.markers.items():
        assert text[open_at] == f"<e:{spans[k][2]}>" and text[close_at] == f"</e:{spans[k][2]}>"
    assert text[window.markers[0][0] + 1] == "denis" and text[window.markers[2][1] - 1] == "##be"
    assert window.pairs == tuple(pairs)


def test_nested_mentions_stay_well_formed(schema, tok):
    words = ["the", "Lipetsk", "Region", "Administration"]
    spans = [(1, 4, "ORG"), (1, 2, "LOC")]  # outer first, as marked_spans orders them
    assert marked_spans([spans[1], spans[0]], schema) == [1, 0]
    (window,) = encode_sentence(tok, WordPieces(tok, words), spans, [(0, 1)], 64)
    text = tok.convert_ids_to_tokens(list(window.input_ids))
    assert text[1:5] == ["the", "<e:ORG>", "<e:LOC>", "lip"] and text[-3:] == ["administration", "</e:ORG>", "[SEP]"]


def test_a_long_sentence_is_covered_by_windows_that_hold_every_pair_in_reach(schema, tok):
    rng = random.Random(0)
    words = [rng.choice(["Lipetsk", "met", "cooperation", "Khujand", "interregional", "a"]) for _ in range(400)]
    spans, w = [], 0
    while w < len(words) - 3:
        length = rng.randint(1, 3)
        spans.append((w, w + length, rng.choice(schema.entity_labels)))
        w += length + rng.randint(0, 6)
    pieces = WordPieces(tok, words)
    pairs, _ = pairs_in_reach(spans, schema, pieces, 48, tok)
    windows = encode_sentence(tok, pieces, spans, pairs, 48)
    assert len(windows) > 5 and all(len(win.input_ids) <= 48 for win in windows)
    scored = [p for win in windows for p in win.pairs]
    assert sorted(scored) == sorted(pairs)  # each pair exactly once
    for win in windows:
        text = tok.convert_ids_to_tokens(list(win.input_ids))
        for h, t in win.pairs:
            assert text[win.markers[h][0]] == f"<e:{spans[h][2]}>" and text[win.markers[t][0]] == f"<e:{spans[t][2]}>"


def test_pairs_in_reach_equals_the_definition(schema, tok):
    """Linear scan == brute force: a candidate is in reach when its words, plus two markers for every
    mention starting among them, fit the window; every other candidate is counted as lost."""
    rng = random.Random(1)
    words = [rng.choice(["Lipetsk", "met", "cooperation", "Khujand", "interregional", "a"]) for _ in range(400)]
    pieces = WordPieces(tok, words)
    spans, w = [], 0
    while w < len(words) - 3:
        length = rng.randint(1, 3)
        spans.append((w, w + length, rng.choice(schema.entity_labels)))
        w += length + rng.randint(0, 4)
    lengths = [len(p) for p in pieces.pieces]
    for max_length in (24, 64, 1000):
        pairs, lost = pairs_in_reach(spans, schema, pieces, max_length, tok)
        everything = candidate_pairs(spans, schema)

        def cost(h, t):
            lo, hi = min(spans[h][0], spans[t][0]), max(spans[h][1], spans[t][1])
            return sum(lengths[lo:hi]) + 2 * sum(lo <= s < hi for s, _, _ in spans)

        fits = {(h, t) for h, t in everything if cost(h, t) <= max_length - 2}
        assert set(pairs) == fits and len(pairs) == len(fits)
        assert lost == len(everything) - len(fits)


def test_one_pass_scores_each_sentence_as_if_it_were_alone(schema, tok):
    """Padding and batch neighbours do not change a pair's logits; pairs map back to their rows."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=len(schema.relation_labels),
    )
    model = MarkerRelationModel(config).eval()
    sentences = [
        (
            ["Denis", "Manturov", "met", "Emomali", "Rahmon", "in", "Dushanbe", "."],
            [(0, 2, "PER"), (3, 5, "PER"), (6, 7, "LOC")],
        ),
        (["Lipetsk", "and", "Khujand", "signed", "it"], [(0, 1, "LOC"), (2, 3, "LOC")]),
    ]
    rows = []
    for words, spans in sentences:
        pieces = WordPieces(tok, words)
        (window,) = encode_sentence(tok, pieces, spans, pairs_in_reach(spans, schema, pieces, 64, tok)[0], 64)
        rows.append({"input_ids": window.input_ids, **window.pair_features()})
    with torch.no_grad():
        together = model(**as_tensors(collate_windows(rows, tok.pad_token_id))).logits
        alone = torch.cat([model(**as_tensors(collate_windows([row], tok.pad_token_id))).logits for row in rows])
    assert together.shape == (sum(len(r["head_spans"]) for r in rows), len(schema.relation_labels))
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    # "Lipetsk and Khujand": the pooled text between the mentions is the word "and", not zeros
    batch = as_tensors(collate_windows(rows[1:], tok.pad_token_id))
    hidden = model.encoder(input_ids=batch["input_ids"]).last_hidden_state
    between = between_max(hidden, batch["pair_rows"], batch["head_spans"], batch["tail_spans"])
    torch.testing.assert_close(between[0], hidden[0, batch["head_spans"][0, 1] + 1])
