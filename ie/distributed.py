"""Process roles under ``torchrun``: which process writes, and one run folder for all of them.

Every process of a data-parallel run composes the config itself. Hydra's ``${now:}`` would give each
the second it started, so the run folder's time stamp comes from ``${run_stamp:}``, which rank 0
decides and broadcasts (over the gloo process group the Trainer then reuses). Only rank 0 writes
the config, the report, checkpoints and metrics.
"""

from __future__ import annotations

import os
from datetime import datetime

_STAMP: str | None = None


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def _process_group():
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")  # env:// rendezvous set up by torchrun
    return dist


def run_stamp() -> str:
    """The run's time stamp, the same in every process of one ``torchrun`` launch."""
    global _STAMP
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    if world_size() == 1:
        return stamp
    if _STAMP is None:  # one broadcast per process, however often Hydra resolves the run folder
        box = [stamp]
        _process_group().broadcast_object_list(box, src=0)
        _STAMP = box[0]
    return _STAMP


def barrier() -> None:
    """Wait for every process (a no-op in a single process)."""
    if world_size() > 1:
        _process_group().barrier()
