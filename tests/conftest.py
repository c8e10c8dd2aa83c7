import socket
import textwrap
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from ie.config import register
from ie.data.schema import Schema

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
_STARTING_THREADS = torch.get_num_threads()  # torch's default for this machine, before any test changes it
TINY = ["debug=fast", "trainer.disable_tqdm=true"]
TEST_DOC = "004_8167059eeef70516"  # the test article of the default seeds split
CONLL04_SCHEMA = ROOT / "data" / "conll04" / "schema.json"  # the project's own; the data files are read in place


def conll04_folder() -> Path:
    """Where CoNLL04's JSON files are read from, as ``paths.conll04`` resolves by default ($IE_CONLL04_DIR,
    else ../shared/benchmarks/conll04 beside the repository); skips the calling test where they are missing."""
    from ie.data.formats.conll04 import default_folder, missing_files

    folder = default_folder()
    if missing_files(folder):
        pytest.skip(f"CoNLL04's JSON files are not in {folder} (IE_CONLL04_DIR=FOLDER; data/conll04/README.md)")
    return folder


@pytest.fixture(scope="session")
def conll04_dir() -> Path:
    """:func:`conll04_folder` as a fixture."""
    return conll04_folder()


def rounded(predictions):
    """Predictions to compare across batchings or backends: labels and offsets exactly, scores to 5
    places (another batch width or kernel moves the last float bits)."""
    return [
        [(e.label, e.start, e.end, round(e.score, 5)) for e in p.entities]
        + [(r.label, r.head.start, r.tail.start, round(r.score, 5)) for r in p.relations]
        for p in predictions
    ]


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A Predictor loaded with ``threads`` (in a test or a fixture of any scope) changes torch's intra-op threads
    for the whole process; later trainings would then sum in another order and differ in the last bits from the
    session's fixture runs. Each test ends with torch's default back."""
    yield
    if torch.get_num_threads() != _STARTING_THREADS:
        torch.set_num_threads(_STARTING_THREADS)


def blocking_imports(*modules: str) -> str:
    """Python source that, run first in a fresh interpreter, makes ``modules`` (and their submodules) fail to
    import as if they were not installed: what an install without them does."""
    return textwrap.dedent(f"""
        import importlib.abc, sys
        class _Blocked(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {modules!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        sys.meta_path.insert(0, _Blocked())
    """)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compose_config(name: str, overrides: list[str]):
    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose(name, overrides=overrides)


@pytest.fixture(scope="session")
def schema() -> Schema:
    return Schema.load(SEEDS / "schema.json")


@pytest.fixture
def write_pair(tmp_path):
    """Write NAME.txt / NAME.ann into tmp_path and return the .txt path."""

    def write(name: str, text: str, ann: str) -> Path:
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
        (tmp_path / f"{name}.ann").write_text(ann, encoding="utf-8")
        return tmp_path / f"{name}.txt"

    return write


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    """One tiny run (random 2-layer encoder, one epoch, seconds) trained on the seeds, shared by every
    test that needs a run folder: checkpoints, metrics, model card, logs, HTML report."""
    from ie.training.train import train

    out = tmp_path_factory.mktemp("run")
    results = train(compose_config("train", TINY + [f"paths.output_dir={out}"]))
    assert results["ner"]["strict"]["micro"]["support"] > 0
    return out


@pytest.fixture(scope="session")
def span_run_dir(tmp_path_factory):
    """A tiny NER-only run with the span head (model.ner_head=span), for the tests that hold for every head."""
    from ie.training.train import train

    out = tmp_path_factory.mktemp("span_run")
    train(compose_config("train", TINY + ["task=ner", "model.ner_head=span", f"paths.output_dir={out}"]))
    return out


@pytest.fixture(scope="session")
def shared_run_dir(tmp_path_factory):
    """A tiny run with one encoder for NER and RE (model.shared_encoder=joint)."""
    from ie.training.train import train

    out = tmp_path_factory.mktemp("shared_run")
    train(compose_config("train", TINY + ["model.shared_encoder=joint", f"paths.output_dir={out}"]))
    return out


def _exported(tmp_path_factory, run: Path, name: str) -> Path:
    """A copy of ``run`` with its ONNX export (fp32 and int8; not timed, so backend=auto keeps torch)."""
    import shutil

    from ie.inference.onnx_export import export_run

    out = tmp_path_factory.mktemp(name)
    shutil.copy2(run / "config.yaml", out / "config.yaml")
    for task in ("ner", "re"):
        if (run / task).is_dir():
            shutil.copytree(run / task, out / task)
    export_run(out, quantize="int8", measure=False)
    return out


@pytest.fixture(scope="session")
def onnx_run_dir(tmp_path_factory, run_dir):
    return _exported(tmp_path_factory, run_dir, "onnx_run")


@pytest.fixture(scope="session")
def onnx_shared_run_dir(tmp_path_factory, shared_run_dir):
    return _exported(tmp_path_factory, shared_run_dir, "onnx_shared_run")


@pytest.fixture(scope="session")
def onnx_span_run_dir(tmp_path_factory, span_run_dir):
    return _exported(tmp_path_factory, span_run_dir, "onnx_span_run")
