"""The run folder: what training writes, what the Predictor loads and evaluation reads, and how a
command finds one (a path, ``latest``, or every run below a sweep folder).

    RUN/config.yaml          the resolved config
    RUN/ner/, RUN/re/        the checkpoints (either may be absent)
    RUN/metrics.json         the test-split scores written at the end of training
    RUN/predictions_<split>.jsonl   per-sentence gold and predictions, what every score is made from
    RUN/README.md            the model card, written last
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ie.errors import ConfigError, IEError

TASKS = ("ner", "re")
CONFIG_FILE = "config.yaml"
EXPORT_MANIFEST = "manifest.json"  # of an ONNX export (ie.inference.onnx_backend.MANIFEST)
METRICS_FILE = "metrics.json"
CARD_FILE = "README.md"  # the model card


class RunError(IEError, ValueError):
    """A run folder, or a file in it, is not what its command needs."""


class RunNotFoundError(IEError, FileNotFoundError):
    """No run folder where one was named."""


def is_run(path: str | Path) -> bool:
    """A run folder holds its resolved ``config.yaml`` and at least one checkpoint (``ner/``, ``re/``)."""
    path = Path(path)
    return (path / CONFIG_FILE).is_file() and any((path / task).is_dir() for task in TASKS)


def is_export(path: str | Path) -> bool:
    """An ONNX export copied on its own (``RUN/onnx``, :mod:`ie.inference.onnx_backend`) serves as a run."""
    path = Path(path)
    return (path / EXPORT_MANIFEST).is_file() and any((path / task).is_dir() for task in TASKS)


def resolve_run(run: str | Path, models_dir: str | Path) -> Path:
    """A run folder; ``latest`` is the most recently finished run (the newest model card, the last
    thing a run writes; a final run trained on every document has no ``metrics.json``)."""
    if str(run) == "latest":
        cards = sorted(
            (p for p in Path(models_dir).glob(f"**/{CARD_FILE}") if is_run(p.parent)), key=lambda p: p.stat().st_mtime
        )
        if not cards:
            raise RunNotFoundError(
                f"run=latest: no finished run (with its {CARD_FILE}) under {models_dir}; "
                "train one with train.py or give run=<folder>"
            )
        return cards[-1].parent
    return check_run_folder(Path(run), f"run={run}")


def check_run_folder(path: Path, where: str) -> Path:
    """``path``, a run folder or an ONNX export; else one line, ``where`` first, saying what one needs."""
    if not is_run(path) and not is_export(path):
        raise RunNotFoundError(
            f"{where}: not a run folder (needs {CONFIG_FILE} and ner/ or re/, or an ONNX export's {EXPORT_MANIFEST})"
        )
    return path


def find_runs(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders given directly or anywhere below a given folder, such as a Hydra multirun folder."""
    found: list[Path] = []
    for p in map(Path, paths):
        if is_run(p):
            found.append(p)
        elif p.is_dir():
            below = sorted(c.parent for c in p.glob(f"**/{CONFIG_FILE}") if is_run(c.parent))
            if not below:
                raise RunNotFoundError(f"compare: no run folder ({CONFIG_FILE} with ner/ or re/) under {p}")
            found += below
        else:
            raise RunNotFoundError(f"compare: {p} does not exist")
    if len(set(found)) != len(found):
        raise ConfigError("compare: a run is listed twice")
    return found


def predictions_path(run_dir: str | Path, split: str) -> Path:
    return Path(run_dir) / f"predictions_{split}.jsonl"
