from transformers import AutoTokenizer

from ie.align import WordPieces
from ie.config import _packaged_encoder
from ie.markers import add_marker_tokens, encode_pair


def tokenizer(schema):
    tok = AutoTokenizer.from_pretrained(_packaged_encoder())
    assert add_marker_tokens(tok, schema.entity_labels) == 4 * len(schema.entity_labels)
    return tok


def test_typed_markers_wrap_head_and_tail(schema):
    tok = tokenizer(schema)
    words = ["Denis", "Manturov", "met", "Emomali", "Rahmon", "."]
    pair = encode_pair(tok, WordPieces(tok, words), (3, 5, "PER"), (0, 2, "PER"), 64)
    text = tok.convert_ids_to_tokens(list(pair.input_ids))
    assert text[pair.head_index] == "<h:PER>" and text[pair.tail_index] == "<t:PER>"
    assert text.index("</t:PER>") < text.index("met") < pair.head_index < text.index("</h:PER>")
    assert tok.convert_tokens_to_ids("<h:LOC>") != tok.unk_token_id  # one token each, never split


def test_long_sentence_keeps_the_pair_and_drops_only_far_context(schema):
    tok = tokenizer(schema)
    words = ["news"] * 300 + ["Lipetsk", "and", "Khujand"] + ["news"] * 300
    pair = encode_pair(tok, WordPieces(tok, words), (300, 301, "LOC"), (302, 303, "LOC"), 32)
    assert len(pair.input_ids) <= 32
    text = tok.convert_ids_to_tokens(list(pair.input_ids))
    assert text[pair.head_index + 1] == "lip" or text[pair.head_index + 1].startswith("lip")
    far = encode_pair(tok, WordPieces(tok, words), (0, 1, "LOC"), (302, 303, "LOC"), 32)
    assert far is None  # reported as lost by callers, never silently cut


def test_pairs_in_reach_equals_brute_force(schema):
    import random

    from ie.dataset import candidate_pairs
    from ie.markers import pairs_in_reach

    tok = tokenizer(schema)
    rng = random.Random(0)
    words = [rng.choice(["Lipetsk", "met", "cooperation", "Khujand", "interregional", "a"]) for _ in range(400)]
    pieces = WordPieces(tok, words)
    spans, w = [], 0
    while w < len(words) - 3:
        length = rng.randint(1, 3)
        spans.append((w, w + length, rng.choice(schema.entity_labels)))
        w += length + rng.randint(0, 4)
    for max_length in (24, 64, 1000):
        pairs, lost = pairs_in_reach(spans, schema, pieces, max_length, tok)
        everything = candidate_pairs(spans, schema)
        fits = {(h, t) for h, t in everything
                if encode_pair(tok, pieces, spans[h], spans[t], max_length) is not None}
        assert set(pairs) == fits and len(pairs) == len(fits)
        assert lost == len(everything) - len(fits)
