"""The pip extras (pyproject.toml): the core install predicts and serves an ONNX export without torch, and a command
whose extra is missing names the extra in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

from ie.extras import EXTRA_OF_MODULE, PLUGIN_OF_OVERRIDE

from conftest import ROOT, blocking_imports, free_port

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
TEXT = "Denis Manturov met Emomali Rahmon in Dushanbe on 12 May 2024."


def _names(requirements) -> set[str]:
    return {Requirement(r).name for r in requirements}


def test_the_core_install_has_no_torch_and_every_named_extra_exists():
    assert not {"torch", "transformers", "fastapi", "onnx"} & _names(PROJECT["dependencies"])
    assert {"onnxruntime", "tokenizers", "numpy", "spacy"} <= _names(PROJECT["dependencies"])
    named = set(EXTRA_OF_MODULE.values()) | {extra for _, extra in PLUGIN_OF_OVERRIDE.values()}
    assert named <= set(EXTRAS), f"extras named by ie/extras.py but absent from pyproject.toml: {named - set(EXTRAS)}"
    [everything] = EXTRAS["all"]
    assert set(Requirement(everything).extras) == set(EXTRAS) - {"all", "dev"}


RUN_COMMAND = """
sys.argv = {argv!r}
import runpy
runpy.run_path({script!r}, run_name="__main__") if {script!r}.endswith(".py") else runpy.run_module({script!r},
                                                                                                run_name="__main__")
"""


@pytest.mark.parametrize(
    "script, args, blocked, message",
    [
        (
            "train.py",
            ["debug=fast"],
            ("torch", "transformers"),
            "this needs the 'train' extra, which is not installed (no module 'torch'): pip install -e '.[train]'",
        ),
        ("ie.serve", ["run=RUN"], ("fastapi",), "needs the 'serve' extra"),
        ("ie.export", ["run=RUN"], ("onnxscript",), "needs the 'export' extra"),
        (
            "train.py",
            ["-m", "hydra/launcher=slurm", "seed=1,2"],
            ("hydra_plugins",),
            "hydra/launcher=slurm needs the Hydra plugin hydra_plugins.hydra_submitit_launcher of the 'slurm' extra: "
            "pip install -e '.[slurm]'",
        ),
        ("train.py", ["-m", "hparams_search=seeds_optuna"], ("hydra_plugins",), "of the 'optuna' extra"),
    ],
)
def test_a_command_whose_extra_is_missing_names_it_in_one_line(run_dir, tmp_path, script, args, blocked, message):
    argv = [script, *(a.replace("RUN", str(run_dir)) for a in args), f"paths.output_dir={tmp_path}"]
    if script != "train.py":
        argv = argv[:-1]
    code = blocking_imports(*blocked) + RUN_COMMAND.format(
        argv=argv, script=str(ROOT / script) if script.endswith(".py") else script
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "error:" in line]) == 1


@pytest.fixture(scope="module")
def serve_venv(tmp_path_factory) -> Path:
    """A fresh venv with ``pip install -e ".[serve]"`` only: what a torch-free service installs."""
    venv = tmp_path_factory.mktemp("serve_venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {**os.environ, "PIP_RETRIES": "10", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[serve]"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return python


def test_the_serve_extra_serves_an_export_without_torch(serve_venv, onnx_run_dir, onnx_shared_run_dir, tmp_path):
    from ie.inference.predictor import Predictor

    for absent in ("torch", "transformers", "onnx"):
        proc = subprocess.run([str(serve_venv), "-c", f"import {absent}"], capture_output=True, text=True)
        assert proc.returncode != 0, f"{absent} is installed by .[serve]"
    port = free_port()
    server = subprocess.Popen(
        [str(serve_venv), "-m", "ie.serve", f"run={onnx_run_dir}", "backend=onnx", f"port={port}"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 120
        while True:
            assert server.poll() is None, server.stdout.read()[-3000:]
            assert time.time() < deadline, "the service did not start in 120 s"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/extract",
            data=json.dumps({"text": TEXT}).encode(),
            headers={"content-type": "application/json"},
        )
        served = json.loads(urllib.request.urlopen(request, timeout=60).read())
    finally:
        server.terminate()
        server.wait(timeout=60)
    expected = Predictor.from_pretrained(onnx_run_dir, backend="onnx").predict([TEXT])[0].to_dict()
    assert [(e["label"], e["start"], e["end"]) for e in served["entities"]] == [
        (e["label"], e["start"], e["end"]) for e in expected["entities"]
    ]
    # a shared-encoder run's relation head runs in NumPy on the export's hidden states: no torch either
    script = textwrap.dedent(f"""
        import json
        from ie import Predictor
        p = Predictor.from_pretrained({str(onnx_shared_run_dir)!r}, backend="onnx")
        print(json.dumps(p.predict([{TEXT!r}])[0].to_dict()))
    """)
    proc = subprocess.run([str(serve_venv), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shared = Predictor.from_pretrained(onnx_shared_run_dir, backend="onnx").predict([TEXT])[0].to_dict()

    def relations(prediction):
        return [
            (r["label"], r["head"]["start"], r["tail"]["start"], round(r["score"], 4)) for r in prediction["relations"]
        ]

    assert shared["relations"] and relations(json.loads(proc.stdout.strip().splitlines()[-1])) == relations(shared)
    proc = subprocess.run(
        [str(serve_venv), str(ROOT / "train.py"), "debug=fast", f"paths.output_dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1 and "pip install -e '.[train]'" in proc.stderr and "Traceback" not in proc.stderr
