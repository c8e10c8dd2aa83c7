"""Segmenters: how raw text becomes words, chosen by ``data.segmenter`` and stored in the checkpoints, so
the Predictor reads text into the words its model was trained on."""

import json
import shutil

import pytest
from omegaconf import OmegaConf

from ie.config import DataConfig
from ie.data.text import DEFAULT_SEGMENTER, split_sentences
from ie.errors import ConfigError
from ie.inference.predictor import Predictor
from ie.models.checkpoint import CheckpointError
from ie.validate import main as validate_main

from tests.conftest import SEEDS

TEXT = "The Issyk-Kul forum of the Russian-Kazakhstan Business Council met on 5-year plans. Mr. Li spoke."


def words(segmenter):
    return [t.text for s in split_sentences(TEXT, segmenter) for t in s.tokens]


def test_hyphenated_words_stay_whole_only_with_the_keep_hyphens_segmenter():
    assert words("spacy")[:4] == ["The", "Issyk", "-", "Kul"]
    kept = words("spacy_keep_hyphens")
    assert {"Issyk-Kul", "Russian-Kazakhstan", "5-year", "Mr.", "Li"} <= set(kept) and "-" not in kept
    assert DataConfig().segmenter == DEFAULT_SEGMENTER  # the config's default is the code's
    with pytest.raises(ConfigError, match=r"data.segmenter: unknown segmenter 'nltk' \(known: spacy, spacy_keep"):
        split_sentences(TEXT, "nltk")


def test_the_seed_annotations_fit_the_words_of_either_segmenter(capsys):
    for segmenter in ("spacy", "spacy_keep_hyphens"):
        assert validate_main([str(SEEDS), "--segmenter", segmenter]) == 0
    assert "0 error(s)" in capsys.readouterr().out


def _with_segmenter(run_dir, tmp_path, ner: str, re: str):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    for task, segmenter in (("ner", ner), ("re", re)):
        info = json.loads((run / task / "ie.json").read_text())
        (run / task / "ie.json").write_text(json.dumps({**info, "segmenter": segmenter}))
    return run


def test_the_predictor_reads_text_with_the_checkpoints_segmenter(run_dir, tmp_path):
    trained_with = OmegaConf.load(run_dir / "config.yaml").data.segmenter
    assert Predictor.from_pretrained(run_dir).segmenter == trained_with  # as recorded by training
    run = _with_segmenter(run_dir, tmp_path, "spacy_keep_hyphens", "spacy_keep_hyphens")
    predictor = Predictor.from_pretrained(run)
    assert predictor.segmenter == "spacy_keep_hyphens"
    starts = {t.start for s in split_sentences(TEXT, "spacy_keep_hyphens") for t in s.tokens}
    assert all(e.start in starts for e in predictor(TEXT).entities)


def test_checkpoints_that_read_text_differently_are_refused(run_dir, tmp_path):
    with pytest.raises(CheckpointError, match="different segmenters"):
        Predictor.from_pretrained(_with_segmenter(run_dir, tmp_path, "spacy", "spacy_keep_hyphens"))


def _fresh_python(code: str) -> str:
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()


def test_splitting_sentences_does_not_load_torch_and_torch_still_imports_after():
    """thinc would import torch under spaCy (265 MiB): an ONNX service or ie.convert would carry it."""
    out = _fresh_python(
        "import sys\nfrom ie.data.text import split_sentences\n"
        "print(len(split_sentences('He met her. They signed.', 'spacy_keep_hyphens')))\n"
        "print('torch' in sys.modules)\nimport torch\nprint(int(torch.ones(3).sum()))"
    )
    assert out == ["2", "False", "3"]


def test_a_process_with_torch_loaded_gets_spacy_as_it_is():
    out = _fresh_python(
        "import torch\nfrom ie.data.text import split_sentences\nimport thinc.compat\n"
        "print(len(split_sentences('He met her. They signed.')), thinc.compat.has_torch)"
    )
    assert out == ["2", "True"]
