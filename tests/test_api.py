"""The Python API a service uses: ``from ie import Predictor``, typed results with to_dict()/JSON, and
one shared Predictor answering concurrent requests."""

import dataclasses
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import distribution

import pytest

from tests.conftest import ROOT, SEEDS, TEST_DOC


def test_package_exports_the_api_lazily():
    assert distribution("ie").metadata["Name"] == "ie"  # installed (pip install -e .)
    code = (
        "import sys, ie; assert 'torch' not in sys.modules; "
        "from ie import Predictor, Prediction, Entity, Relation; import ie.inference.predictor as m; "
        "assert (Predictor, Prediction, Entity, Relation) == (m.Predictor, m.Prediction, m.Entity, m.Relation)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_results_are_typed_frozen_and_serialise():
    from ie import Entity, Prediction, Relation

    head, tail = Entity("PER", 0, 5, "Denis", 0.9), Entity("ORG", 15, 20, "Rosneft", 0.5)
    prediction = Prediction("Denis works at Rosneft", [head, tail], [Relation("works_for", head, tail, 0.75)])
    with pytest.raises(dataclasses.FrozenInstanceError):
        head.label = "LOC"
    assert {f.name: f.type for f in dataclasses.fields(Entity)} == {
        "label": "str",
        "start": "int",
        "end": "int",
        "text": "str",
        "score": "float",
    }
    assert (
        json.loads(prediction.to_json())
        == prediction.to_dict()
        == {
            "text": "Denis works at Rosneft",
            "entities": [head.to_dict(), tail.to_dict()],
            "relations": [{"label": "works_for", "head": head.to_dict(), "tail": tail.to_dict(), "score": 0.75}],
        }
    )


def test_one_predictor_serves_concurrent_calls_like_sequential_ones(run_dir):
    from ie import Predictor

    predictor = Predictor.from_pretrained(run_dir)
    article = (SEEDS / f"{TEST_DOC}.txt").read_text(encoding="utf-8")
    texts = [article[i * 150 : i * 150 + 450] for i in range(8)] * 2
    sequential = [predictor(t).to_dict() for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = [p.to_dict() for p in pool.map(predictor, texts)]
    assert concurrent == sequential and any(p["entities"] for p in sequential)
