import itertools
import json
import random

import pytest
import torch

from ie.inference.decoding import decode_many, viterbi
from ie.inference.predictor import Predictor

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG"]


def well_formed(tags):
    return all(
        not t.startswith("I-") or (prev != "O" and prev[2:] == t[2:]) for prev, t in zip(["O"] + tags[:-1], tags)
    )


def test_viterbi_is_the_best_well_formed_sequence():
    """Brute force over every tag sequence of up to four words."""
    rng = random.Random(0)
    sentences, expected = [], []
    for _ in range(60):
        n = rng.randint(1, 4)
        log_probs = torch.randn(n, len(LABELS), generator=torch.Generator().manual_seed(rng.randrange(10**6)))
        log_probs = log_probs.log_softmax(-1)
        best = max(
            (seq for seq in itertools.product(range(len(LABELS)), repeat=n) if well_formed([LABELS[k] for k in seq])),
            key=lambda seq: sum(float(log_probs[w, k]) for w, k in enumerate(seq)),
        )
        assert viterbi(log_probs, LABELS) == list(best)
        sentences.append(log_probs)
        expected.append(list(best))
    assert decode_many(sentences, LABELS, "viterbi") == expected  # all at once, padded to 4 words


def test_argmax_keeps_an_ill_formed_tag_that_viterbi_repairs():
    p = torch.tensor(
        [
            [0.1, 0.6, 0.1, 0.1, 0.1],  # B-PER
            [0.1, 0.05, 0.2, 0.05, 0.6],  # I-ORG best alone, after B-PER
            [0.9, 0.025, 0.025, 0.025, 0.025],
        ]
    ).log()
    assert [LABELS[k] for k in decode_many([p], LABELS, "argmax")[0]] == ["B-PER", "I-ORG", "O"]
    assert [LABELS[k] for k in decode_many([p], LABELS, "viterbi")[0]] == ["B-PER", "I-PER", "O"]
    assert viterbi(torch.zeros(0, len(LABELS)), LABELS) == []


def test_the_predictor_names_a_wrong_decoding(run_dir):
    with pytest.raises(ValueError, match="decoding must be one of"):
        Predictor.from_pretrained(run_dir, decoding="beam")


def test_decoding_many_sentences_at_once_equals_one_at_a_time():
    """Grouped, padded decoding of sentences of mixed lengths (and empty ones) gives each sentence the
    path it gets alone; the group size is crossed so padding and group boundaries are both exercised."""
    gen = torch.Generator().manual_seed(1)
    sentences = [torch.randn(n, len(LABELS), generator=gen).log_softmax(-1) for n in [0, 1, 7, 3, 0, 12, 1, 5] * 40]
    one_by_one = [viterbi(s, LABELS) for s in sentences]
    assert decode_many(sentences, LABELS, "viterbi") == one_by_one
    assert decode_many(sentences, LABELS, "argmax") == [s.argmax(-1).tolist() for s in sentences]
    assert decode_many([], LABELS, "viterbi") == []


def test_dev_metrics_decode_as_the_predictor_does():
    """Best-epoch selection scores the tags the Predictor would return: Viterbi repairs an argmax
    ``O I-PER`` (which strict IOB2 drops) into ``B-PER I-PER``."""
    from types import SimpleNamespace

    import numpy as np

    from ie.training.dev_metrics import ner_dev_metrics

    labels = ["O", "B-PER", "I-PER"]
    # [CLS] (ignored), then three words: argmax reads O, I-PER, O
    logits = np.array([[[9.0, 0.0, 0.0], [1.0, 0.9, -5.0], [0.0, -5.0, 3.0], [4.0, 0.0, 0.0]]], dtype=np.float32)
    gold = np.array([[-100, 1, 2, 0]])
    pred = SimpleNamespace(predictions=logits, label_ids=gold)
    assert ner_dev_metrics(labels)(pred)["f1"] == 1.0
    assert ner_dev_metrics(labels, "argmax")(pred)["f1"] == 0.0


def test_transition_counts_let_viterbi_read_two_words_as_one_name(run_dir):
    from ie.data.bio import transition_counts
    from ie.inference.decoding import decode_many

    labels = ["O", "B-PER", "I-PER"]
    training = [["B-PER", "I-PER", "O"], ["O", "B-PER", "I-PER"], ["B-PER", "I-PER", "O", "O"]]
    counts = transition_counts(training, labels)
    assert counts[0] == [1, 2, 0] and counts[2] == [0, 0, 3] and counts[3] == [2, 0, 0]  # start, after B, after I
    # the model alone slightly prefers a second B-PER: two one-word names
    log_probs = torch.tensor([[0.05, 0.9, 0.05], [0.05, 0.5, 0.45]]).log()
    assert decode_many([log_probs], labels, "viterbi") == [[1, 1]]
    assert decode_many([log_probs], labels, "viterbi_transitions", counts) == [[1, 2]]
    assert json.loads((run_dir / "ner" / "ie.json").read_text())["tag_transitions"]  # training counts them
    assert Predictor.from_pretrained(run_dir, decoding="viterbi_transitions").tag_transitions


def test_viterbi_transitions_needs_a_checkpoint_that_counted_them(run_dir, tmp_path):
    import shutil

    from ie.errors import ConfigError

    shutil.copytree(run_dir, tmp_path / "run")
    info = json.loads((tmp_path / "run" / "ner" / "ie.json").read_text())
    del info["tag_transitions"]
    (tmp_path / "run" / "ner" / "ie.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match="no tag transition counts"):
        Predictor.from_pretrained(tmp_path / "run", decoding="viterbi_transitions")


def test_a_checkpoint_is_read_with_the_decoding_it_was_trained_for(run_dir, tmp_path):
    import shutil

    assert Predictor.from_pretrained(run_dir).decoding == "viterbi"  # training's default for a token head
    shutil.copytree(run_dir, tmp_path / "run")
    info = json.loads((tmp_path / "run" / "ner" / "ie.json").read_text())
    (tmp_path / "run" / "ner" / "ie.json").write_text(json.dumps({**info, "decoding": "viterbi_transitions"}))
    assert Predictor.from_pretrained(tmp_path / "run").decoding == "viterbi_transitions"
    assert Predictor.from_pretrained(tmp_path / "run", decoding="argmax").decoding == "argmax"
    del info["decoding"]  # a checkpoint from before it was recorded
    (tmp_path / "run" / "ner" / "ie.json").write_text(json.dumps(info))
    assert Predictor.from_pretrained(tmp_path / "run").decoding == "viterbi"


def test_the_structure_prior_keeps_rare_types_that_the_tag_prior_suppresses():
    from ie.data.bio import transition_counts
    from ie.inference.decoding import decode_many

    labels = ["O", "B-PER", "I-PER", "B-AGR", "I-AGR"]
    training = [["B-PER", "I-PER", "O", "O"]] * 20 + [["O", "B-AGR", "I-AGR", "O"]]  # AGR is rare
    counts = transition_counts(training, labels)
    # the model is fairly sure of a two-word AGR mention
    log_probs = torch.tensor([[0.3, 0.02, 0.02, 0.64, 0.02], [0.3, 0.02, 0.02, 0.02, 0.64]]).log()
    assert decode_many([log_probs], labels, "viterbi") == [[3, 4]]
    assert decode_many([log_probs], labels, "viterbi_transitions", counts) == [[0, 0]]  # rare: read as nothing
    assert decode_many([log_probs], labels, "viterbi_structure", counts) == [[3, 4]]
    # and like the tag prior it joins the words of one name
    two_names = torch.tensor([[0.05, 0.9, 0.03, 0.01, 0.01], [0.05, 0.5, 0.43, 0.01, 0.01]]).log()
    assert decode_many([two_names], labels, "viterbi") == [[1, 1]]
    assert decode_many([two_names], labels, "viterbi_structure", counts) == [[1, 2]]
