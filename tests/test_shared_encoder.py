"""One encoder for NER and relations (model.shared_encoder=joint): pairs read off the NER windows, the
relation head trained with NER and applied to the NER pass's hidden states at inference."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from ie.encoding.align import IGNORE_INDEX, Window
from ie.encoding.shared_pairs import ARCHITECTURE, ENCODING, collate_joint, sentence_pairs
from ie.errors import ConfigError
from ie.inference.predictor import Predictor
from ie.inference.shared_head import SharedHead
from ie.models.shared_pairs import SharedPairHead

from conftest import TINY, compose_config


def _window(word_start: int, word_end: int, pieces_per_word: int = 1) -> Window:
    """A window over words [word_start, word_end) with [CLS]/[SEP] around them."""
    word_ids = (None, *[w for w in range(word_start, word_end) for _ in range(pieces_per_word)], None)
    return Window(word_start, word_end, word_start, word_end, tuple(range(len(word_ids))), word_ids)


def _brute_force(windows, entities, schema):
    """Every candidate pair by the definition: its first window holding both mentions whole, else lost."""

    def inside(w, e):
        return w.word_start <= e[0] and e[1] <= w.word_end

    marked = [
        k for k, e in enumerate(entities) if e[2] in {label for r in schema.relations for label in (*r.heads, *r.tails)}
    ]
    taken, lost = [set() for _ in windows], 0
    for h in marked:
        for t in marked:
            if h == t or not schema.is_candidate(entities[h][2], entities[h][0], entities[t][2], entities[t][0]):
                continue
            home = next((k for k, w in enumerate(windows) if inside(w, entities[h]) and inside(w, entities[t])), None)
            if home is None:
                lost += 1
            else:
                taken[home].add((h, t))
    return taken, lost


def test_pairs_go_to_the_first_window_holding_both_mentions_and_the_rest_are_counted(schema):
    rng = random.Random(7)
    labels = schema.entity_labels
    windows = [_window(0, 40, 2), _window(30, 70, 2), _window(60, 100, 2)]  # overlapping, as strided windows
    for _ in range(20):
        starts = sorted(rng.sample(range(98), 25))
        entities = [(s, s + rng.randint(1, 2), rng.choice(labels)) for s in starts]
        found, lost = sentence_pairs(windows, entities, schema)
        taken, expected_lost = _brute_force(windows, entities, schema)
        assert [set(w.pairs) for w in found] == taken and lost == expected_lost
        for window, pairs in zip(windows, found):  # bounds are the mentions' first and last subword
            for k, (first, last) in pairs.bounds.items():
                assert window.word_ids[first] == entities[k][0] and window.word_ids[last] == entities[k][1] - 1
                assert window.word_ids[last + 1] != entities[k][1] - 1


def test_collated_pairs_point_into_their_own_row_and_labels_pad_with_the_ignore_index():
    rows = [
        {
            "input_ids": [1, 2, 3],
            "labels": [-100, 4, -100],
            "head_bounds": [],
            "tail_bounds": [],
            "head_types": [],
            "tail_types": [],
            "pair_labels": [],
        },
        {
            "input_ids": [1, 2, 3, 4, 5],
            "labels": [-100, 1, 2, 0, -100],
            "head_bounds": [[1, 1], [2, 3]],
            "tail_bounds": [[2, 3], [1, 1]],
            "head_types": [0, 1],
            "tail_types": [1, 0],
            "pair_labels": [3, 0],
        },
    ]
    batch = collate_joint(rows, pad_id=0, multiple=8)
    assert batch["input_ids"].shape == (2, 8) and batch["labels"].shape == (2, 8)
    assert batch["labels"][0].tolist() == [-100, 4, -100] + [IGNORE_INDEX] * 5
    assert batch["pair_rows"].tolist() == [1, 1] and batch["head_bounds"].tolist() == [[1, 1], [2, 3]]
    assert batch["pair_labels"].tolist() == [3, 0]
    no_pairs = collate_joint(rows[:1], pad_id=0)
    assert no_pairs["head_bounds"].shape == (0, 2) and no_pairs["pair_labels"].shape == (0,)


def test_numpy_head_gives_the_training_heads_logits(tmp_path):
    torch.manual_seed(0)
    head = SharedPairHead(8, ["PER", "ORG", "LOC"], ["no_relation", "a", "b"]).eval()
    with torch.no_grad():
        head.type_embeddings.weight.normal_()
        head.classifier.weight.normal_()
    hidden = torch.randn(1, 12, 8)
    bounds = {
        "head_bounds": [[1, 2], [5, 5], [3, 6]],
        "tail_bounds": [[5, 7], [1, 1], [4, 4]],
        "head_types": [0, 1, 2],
        "tail_types": [2, 2, 0],
    }  # apart, reversed, nested (nothing between)
    args = {k: torch.tensor(v) for k, v in bounds.items()}
    expected = head(
        hidden,
        torch.zeros(3, dtype=torch.long),
        args["head_bounds"],
        args["tail_bounds"],
        args["head_types"],
        args["tail_types"],
    )
    head.save_pretrained(tmp_path)
    from ie.inference.shared_head import load_head

    loaded = load_head(tmp_path)
    got = loaded.logits(
        hidden[0].numpy(), *(np.asarray(bounds[k]) for k in ("head_bounds", "tail_bounds", "head_types", "tail_types"))
    )
    np.testing.assert_allclose(got, expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert isinstance(loaded, SharedHead) and loaded.config.id2label == {0: "no_relation", 1: "a", 2: "b"}


def test_a_shared_run_saves_a_plain_ner_checkpoint_and_a_head_that_reads_it(shared_run_dir):
    ner_config = json.loads((shared_run_dir / "ner" / "config.json").read_text())
    re_config = json.loads((shared_run_dir / "re" / "config.json").read_text())
    assert ner_config["architectures"] == ["BertForTokenClassification"] and re_config["architectures"] == [
        ARCHITECTURE
    ]
    assert json.loads((shared_run_dir / "re" / "ie.json").read_text())["encoding"] == ENCODING
    metrics = json.loads((shared_run_dir / "metrics.json").read_text())
    assert metrics["backends"] == {"ner": "lean", "re": "shared (lean)"}
    assert metrics["re"]["gold_entities"]["strict"]["micro"]["support"] > 0


@pytest.mark.parametrize("backend", ["lean", "transformers"])
def test_one_pass_prediction_equals_relations_of_the_predicted_entities(shared_run_dir, backend):
    predictor = Predictor.from_pretrained(shared_run_dir, backend=backend)
    text = (
        "Emomali Rahmon met Denis Manturov in Dushanbe on 5 May 2023. The Khatlon region and the Tomsk "
        "region signed an agreement on cooperation in education."
    )
    result = predictor(text)
    from ie.data.text import split_sentences

    sentences = [[tok.text for tok in sent.tokens] for sent in split_sentences(text, predictor.segmenter)]
    relations = predictor.classify_pairs(sentences, predictor.tag_words(sentences))
    two_pass = sorted((label, round(score, 5)) for rels in relations for *_, label, score in rels)
    assert two_pass and two_pass == sorted((r.label, round(r.score, 5)) for r in result.relations)


def test_both_torch_backends_give_the_same_shared_predictions(shared_run_dir):
    text = "President of the Republic of Tajikistan Emomali Rahmon met with Denis Manturov in Dushanbe."
    lean, hf = (Predictor.from_pretrained(shared_run_dir, backend=b)(text) for b in ("lean", "transformers"))
    assert [(e.label, e.start, e.end) for e in lean.entities] == [(e.label, e.start, e.end) for e in hf.entities]
    assert [(r.label, r.head.start, r.tail.start) for r in lean.relations] == [
        (r.label, r.head.start, r.tail.start) for r in hf.relations
    ]


def test_a_shared_head_without_its_ner_model_fails_in_one_line(shared_run_dir):
    with pytest.raises(ConfigError, match="load both"):
        Predictor.from_pretrained(shared_run_dir, tasks=("re",))


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_export_of_a_shared_run_gives_torchs_relations(shared_run_dir, onnx_shared_run_dir, precision):
    """The NER graph also returns the hidden states; the head is copied and runs in NumPy on them."""
    manifest = json.loads((onnx_shared_run_dir / "onnx" / "manifest.json").read_text())
    assert manifest["tasks"]["re"]["kind"] == "shared_head" and manifest["tasks"]["re"]["graphs"] == {}
    assert manifest["tasks"]["ner"]["graphs"]["fp32"]["fused_ops"]["Attention"] == 2  # two layers, still fused
    text = (
        "Emomali Rahmon met Denis Manturov in Dushanbe on 5 May 2023. The Khatlon region and the Tomsk "
        "region signed an agreement on cooperation in education."
    )
    onnx = Predictor.from_pretrained(onnx_shared_run_dir, backend="onnx", precision=precision)
    assert onnx.backends == {"ner": "onnx", "re": "shared (onnx)"}
    got = onnx(text)
    if precision == "fp32":
        expected = Predictor.from_pretrained(shared_run_dir, backend="lean")(text)
        assert [(r.label, r.head.start, r.tail.start, round(r.score, 3)) for r in got.relations] == [
            (r.label, r.head.start, r.tail.start, round(r.score, 3)) for r in expected.relations
        ]


def test_a_shared_encoder_needs_a_known_way_both_tasks_and_a_token_head(tmp_path):
    from ie.training.train import train

    with pytest.raises(ConfigError, match="expected one of none, joint, frozen, got 'both'"):
        train(compose_config("train", TINY + ["model.shared_encoder=both", f"paths.output_dir={tmp_path}"]))

    with pytest.raises(ConfigError, match="joint trains NER and RE on one encoder: it needs task=all"):
        train(
            compose_config("train", TINY + ["model.shared_encoder=joint", "task=ner", f"paths.output_dir={tmp_path}"])
        )
    with pytest.raises(ConfigError, match="ner_head=token"):
        train(
            compose_config(
                "train",
                TINY + ["model.shared_encoder=joint", "model.ner_head=span", f"paths.output_dir={tmp_path / 'span'}"],
            )
        )


def test_a_frozen_shared_encoder_keeps_the_ner_model_it_trained_first(tmp_path, run_dir):
    """model.shared_encoder=frozen: NER trained exactly as without it, then only the head on its encoder."""
    from ie.training.train import train

    train(compose_config("train", TINY + ["model.shared_encoder=frozen", f"paths.output_dir={tmp_path}"]))
    from safetensors.numpy import load_file

    frozen, alone = (load_file(str(d / "ner" / "model.safetensors")) for d in (tmp_path, run_dir))
    assert frozen.keys() == alone.keys() and all(np.array_equal(frozen[k], alone[k]) for k in alone)
    assert json.loads((tmp_path / "re" / "config.json").read_text())["architectures"] == [ARCHITECTURE]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["backends"]["re"] == "shared (lean)" and metrics["re"]["gold_entities"]["strict"]["micro"]["tp"] > 0
