"""Every command, fed a bad input of each kind it reads, as a new user would run it: exit status 1 and
one line `<command>: error: ...` naming the file, line or field, never a traceback (unless asked for).
A test per command; its cases run two at a time, since each is a fresh Python process."""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from ie.inference.predictor import Predictor
from ie.models.checkpoint import CheckpointError

from tests.conftest import ROOT, SEEDS, TEST_DOC


def run(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env={**clean, **(env or {})}
    )


def check_all(command: str, cases: dict[str, tuple[list[str], list[str]]]) -> None:
    """Run every case (args, fragments its error must hold) and report all that fail at once."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = dict(zip(cases, pool.map(lambda case: run(case[0]), cases.values())))
    failures = []
    for name, proc in procs.items():
        prefix = f"{command}: error: "
        error = proc.stderr[proc.stderr.find(prefix) :] if prefix in proc.stderr else ""
        missing = [f for f in cases[name][1] if f not in error]
        if proc.returncode != 1 or "Traceback" in proc.stderr or not error or missing:
            failures.append(f"{name}: exit {proc.returncode}, missing {missing}; stderr ends:\n{proc.stderr[-1500:]}")
    assert not failures, "\n\n".join(failures)


@pytest.fixture(scope="module")
def bad(tmp_path_factory, run_dir):
    """Bad inputs of every kind, made once: a folder that is no run, a run with a truncated weight file, a
    brat folder with an unknown label, a malformed JSONL line, an over-long text."""
    root = tmp_path_factory.mktemp("bad")
    (root / "empty").mkdir()
    damaged = root / "damaged_run"
    shutil.copytree(run_dir, damaged)
    weights = damaged / "ner" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    (damaged / "re" / "ie.json").write_text('{"task": "re", ', encoding="utf-8")
    (root / "brat").mkdir()
    (root / "brat" / "a.txt").write_text("Denis Manturov met Rahmon.", encoding="utf-8")
    (root / "brat" / "a.ann").write_text("T1\tCITY 0 14\tDenis Manturov\n", encoding="utf-8")
    shutil.copy(SEEDS / "schema.json", root / "brat" / "schema.json")
    (root / "unparsable").mkdir()
    (root / "unparsable" / "b.txt").write_text("Denis.", encoding="utf-8")
    (root / "unparsable" / "b.ann").write_text("T1\tPER 0\tDenis\n", encoding="utf-8")
    (root / "no_schema").mkdir()
    shutil.copy(SEEDS / f"{TEST_DOC}.txt", root / "no_schema")
    shutil.copy(SEEDS / f"{TEST_DOC}.ann", root / "no_schema")
    (root / "docs.jsonl").write_text('{"id": "a", "text": "Lipetsk."}\n{"id": "b", "text": \n', encoding="utf-8")
    (root / "long.txt").write_text("Lipetsk " * 30_000, encoding="utf-8")
    (root / "out").mkdir()
    (root / "out" / TEST_DOC).with_suffix(".ann").write_text("", encoding="utf-8")
    (root / "schema.json").write_text(
        '{"entities": [{"label": "PER"}], "relations": [{"label": "r", "heads": ["PER"], "tails": ["ORG"]}]}',
        encoding="utf-8",
    )
    (root / "broken.json").write_text('{"entities": [', encoding="utf-8")
    return root


def test_train_py(bad):
    base = ["train.py", "debug=fast", f"paths.models_dir={bad / 'models'}"]
    check_all(
        "train.py",
        {
            "config value": (base + ["data.folds=1"], ["data.folds", "at least 2 folds"]),
            "data": (base + [f"data.path={bad / 'brat'}"], ["a.ann:1: error: unknown entity label 'CITY'"]),
            "schema": (base + [f"data.schema={bad / 'none.json'}"], ["none.json: schema file not found"]),
            "encoder": (base + [f"model.name_or_path={bad / 'no_encoder'}"], ["model.name_or_path=", "no_encoder"]),
            "checkpoint to start from": (
                base + [f"model.init_from={bad / 'empty'}"],
                ["model.init_from=", "no ner/ checkpoint"],
            ),
            "run to resume": (["train.py", f"resume={bad / 'empty'}"], ["resume=", "not a run folder"]),
        },
    )
    misspelt = run(["train.py", "trainer.ner.learning_rat=1e-4"])  # Hydra's own one-line compose error
    assert misspelt.returncode == 1 and "Traceback" not in misspelt.stderr and "learning_rat" in misspelt.stderr


def test_evaluate_py(bad, run_dir):
    check_all(
        "evaluate.py",
        {
            "run": (["evaluate.py", f"run={bad / 'empty'}"], ["run=", "not a run folder"]),
            "no finished run": (
                ["evaluate.py", "run=latest", f"paths.models_dir={bad / 'empty'}"],
                ["no finished run"],
            ),
            "split": (["evaluate.py", f"run={run_dir}", "split=dev", f"output={bad / 'e.json'}"], ["split 'dev'"]),
            "damaged checkpoint": (
                ["evaluate.py", f"run={bad / 'damaged_run'}"],
                ["damaged_run/ner/model.safetensors", "damaged"],
            ),
            "setting": (["evaluate.py", f"run={run_dir}", "backend=fast"], ["backend must be one of"]),
            "compare folder": (["evaluate.py", f"compare=[{bad / 'empty'}]"], ["no run folder", "empty"]),
            "baseline": (
                ["evaluate.py", f"compare=[{run_dir}]", "baseline=nope", f"output_dir={bad / 'c'}"],
                ["baseline 'nope'"],
            ),
            "neither run nor compare": (["evaluate.py"], ["exactly one of run="]),
        },
    )


def test_ie_predict(bad, run_dir):
    base = ["-m", "ie.predict", f"run={run_dir}"]
    check_all(
        "ie.predict",
        {
            "input file": (base + [f"input={bad / 'nope.txt'}"], ["nope.txt: no such file or folder"]),
            "input line": (base + [f"input={bad / 'docs.jsonl'}"], ["docs.jsonl:2: not JSON"]),
            "input length": (base + [f"input={bad / 'long.txt'}"], ["long.txt has 240,000 characters", "max_chars"]),
            "run": (
                ["-m", "ie.predict", f"run={bad / 'empty'}", f"input={SEEDS / TEST_DOC}.txt"],
                ["not a run folder"],
            ),
            "damaged checkpoint": (
                ["-m", "ie.predict", f"run={bad / 'damaged_run'}", f"input={SEEDS / TEST_DOC}.txt"],
                ["damaged_run/ner/model.safetensors", "damaged"],
            ),
            "output": (
                base + [f"input={SEEDS / TEST_DOC}.txt", "format=brat", f"output={bad / 'out'}"],
                [f"{TEST_DOC}.ann exists", "overwrite=true"],
            ),
            "format": (base + [f"input={SEEDS / TEST_DOC}.txt", "format=xml"], ["format must be one of"]),
        },
    )


def test_ie_validate(bad):
    check_all(
        "ie.validate",
        {
            "folder": (["-m", "ie.validate", str(bad / "nowhere")], ["nowhere: data folder not found"]),
            "schema": (
                ["-m", "ie.validate", str(bad / "no_schema")],
                ["no_schema/schema.json: no schema file", "--schema"],
            ),
            "annotation line": (
                ["-m", "ie.validate", str(bad / "unparsable")],
                ["b.ann:1: expected 'LABEL START END'"],
            ),
            "split": (
                ["-m", "ie.validate", str(SEEDS), "--split", "test=zzz"],
                ["--split.test: unknown document 'zzz'"],
            ),
        },
    )
    debug = run(["-m", "ie.validate", str(bad / "nowhere"), "--debug"])
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "AnnotationError" in debug.stderr


def test_ie_card(bad):
    check_all(
        "ie.card",
        {
            "run": (["-m", "ie.card", str(bad / "empty")], ["not a run folder"]),
            "damaged checkpoint file": (
                ["-m", "ie.card", str(bad / "damaged_run")],
                ["damaged_run/re/ie.json: not valid JSON"],
            ),
        },
    )


def test_ie_schema(bad):
    check_all(
        "ie.schema",
        {
            "file": (["-m", "ie.schema", str(bad / "none.json")], ["none.json: schema file not found"]),
            "JSON": (["-m", "ie.schema", str(bad / "broken.json")], ["broken.json:1: invalid JSON"]),
            "field": (["-m", "ie.schema", str(bad / "schema.json")], ["relations[0]", "unknown entity label 'ORG'"]),
        },
    )


def test_a_full_traceback_on_request(bad):
    proc = run(["evaluate.py", f"run={bad / 'empty'}"], env={"HYDRA_FULL_ERROR": "1"})
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "RunNotFoundError" in proc.stderr


@pytest.mark.parametrize("backend", ["lean", "transformers"])
@pytest.mark.parametrize(
    "damage", ["truncated weights", "empty weights", "config.json", "tokenizer.json", "schema.json"]
)
def test_a_damaged_checkpoint_is_a_checkpoint_error_naming_the_file(run_dir, tmp_path, backend, damage):
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    name = {"truncated weights": "model.safetensors", "empty weights": "model.safetensors"}.get(damage, damage)
    path = run / "re" / name
    keep = {"truncated weights": len(path.read_bytes()) // 2, "empty weights": 0}.get(damage, 10)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(CheckpointError, match=f"{path}.*damaged"):
        Predictor.from_pretrained(run, backend=backend)
    json.loads((run / "ner" / "config.json").read_text())  # the other checkpoint is untouched
