"""What runs each task's model, whatever the backend: a run's checkpoints loaded as the backend asked for
runs them, and each model behind one call (NumPy inputs in, float32 logits out), which is all the
Predictor sees of torch or ONNX Runtime."""

from __future__ import annotations

from collections.abc import Sequence

from ie.errors import ConfigError
from ie.inference import run_checks
from ie.inference.memory import return_freed_memory


def runner(model, device: str, precision: str):
    """``model`` behind one call: an exported graph runs itself; a torch module is wrapped (torch is
    imported only then)."""
    if getattr(model, "backend", None) == "onnx":
        from ie.inference.onnx_backend import check_runs

        return check_runs(model, device, precision)
    from ie.inference import loading

    return loading.TorchRunner(model, device, precision)


def check_threads(threads: int | None) -> int | None:
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"threads must be a whole number of at least 1 (or null: all cores), got {threads!r}")
    return threads


def load_run(run_dir, tasks: Sequence[str], precision: str, backend: str, threads: int | None = None) -> dict:
    """The run's checkpoints as ``backend`` runs them (``auto``: :func:`ie.inference.onnx_backend.auto_picks_onnx`),
    in a process that returns the activations it frees to the system (:mod:`ie.inference.memory`).

    ``threads``: how many cores one model call uses (``None``: the runtime's default, all of them). ONNX
    Runtime sets it per session; torch has one intra-op pool per process, so for a torch backend this sets
    the process's (``torch.set_num_threads``)."""
    from ie.inference import onnx_backend

    run_checks.check_backend(backend)
    check_threads(threads)
    return_freed_memory()
    if backend == "onnx" or (backend == "auto" and onnx_backend.auto_picks_onnx(run_dir, precision)):
        return onnx_backend.load_run(run_dir, tasks, precision, threads)
    from ie.inference import loading

    return loading.load_run(run_dir, tasks, precision, backend, threads)
