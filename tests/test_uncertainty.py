"""order=uncertainty: documents ranked by the model's uncertainty into ORDER.tsv, so an annotator corrects
the most informative first. (That a document the model never saw ranks above one it trained on, with the
real encoder: tests/test_slow.py.)"""

import csv
import subprocess
import sys

import pytest

from ie.inference.batch import run_predictions
from ie.inference.inputs import InputDocument, InputError
from ie.inference.predictor import Predictor
from ie.inference.results import Entity, Prediction, Relation
from ie.inference.uncertainty import COLUMNS, document_uncertainty, order_tsv, ranked

from tests.conftest import ROOT, SEEDS


def _rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_the_measure_and_the_order():
    a, b = Entity("PER", 0, 5, "Putin", 0.9), Entity("LOC", 10, 16, "Astana", 0.6)
    sure = document_uncertainty(
        "sure", Prediction("x", [a, b], [Relation("located_in", a, b, 0.7)]), [0.99, 0.97, 0.98]
    )
    unsure = document_uncertainty("unsure", Prediction("y", [b]), [0.5, 0.9])
    empty = document_uncertainty("empty", Prediction(""), [])
    assert (unsure.mean_word_uncertainty, unsure.max_word_uncertainty) == pytest.approx((0.3, 0.5))
    assert (sure.lowest_entity_score, sure.lowest_relation_score, sure.words) == (0.6, 0.7, 3)
    assert (unsure.lowest_relation_score, empty.mean_word_uncertainty, empty.lowest_entity_score) == (None, 0.0, None)
    assert [r.id for r in ranked([sure, empty, unsure])] == ["unsure", "sure", "empty"]
    lines = order_tsv([sure, empty, unsure]).splitlines()
    assert lines[0].split("\t") == list(COLUMNS)
    assert lines[1].split("\t")[:6] == ["1", "unsure", "0.3000", "0.5000", "0.6000", ""]


def test_predict_writes_order_tsv_beside_brat_files_ranked_by_the_words_confidence(run_dir, tmp_path):
    source = tmp_path / "new"
    source.mkdir()
    text = (SEEDS / "004_8167059eeef70516.txt").read_text(encoding="utf-8")
    for i, part in enumerate((text[:600], text[600:1500], "Putin met Tokayev.", "")):
        (source / f"doc{i}.txt").write_text(part, encoding="utf-8")
    out = tmp_path / "to_correct"
    cmd = [
        sys.executable,
        "-m",
        "ie.predict",
        f"run={run_dir}",
        f"input={source}",
        "format=brat",
        f"output={out}",
        "order=uncertainty",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(out / "ORDER.tsv")
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4] and {r["id"] for r in rows} == {f"doc{i}" for i in range(4)}
    predictor = Predictor.from_pretrained(run_dir)
    texts = [(source / f"{r['id']}.txt").read_text(encoding="utf-8") for r in rows]
    scored = predictor.predict_with_word_confidence(texts)
    assert [p for p, _ in scored] == predictor.predict(texts)
    means = [sum(1 - c for c in conf) / len(conf) if conf else 0.0 for _, conf in scored]
    assert [float(r["mean_word_uncertainty"]) for r in rows] == pytest.approx(means, abs=1e-4)
    assert means == sorted(means, reverse=True) and rows[-1]["id"] == "doc3"  # no words: nothing to be unsure of
    again = tmp_path / "again"
    again.mkdir()
    (again / "ORDER.tsv").write_text("an earlier ranking", encoding="utf-8")
    with pytest.raises(InputError, match="ORDER.tsv exists"):  # refused before anything is predicted
        run_predictions(predictor, [InputDocument("x", "Text.", "t")], str(again), "brat", order="uncertainty")
    assert not (again / "x.ann").exists()


def test_order_needs_an_output_to_write_beside(run_dir):
    predictor = Predictor.from_pretrained(run_dir)
    with pytest.raises(InputError, match="order=uncertainty writes ORDER.tsv beside the output"):
        run_predictions(predictor, [InputDocument("x", "Text.", "t")], "-", order="uncertainty")
