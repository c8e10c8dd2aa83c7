"""Memory a prediction freed goes back to the system, so a long-running service's resident size follows
its current call, not the largest call it ever served.

glibc's malloc keeps a freed block in its heap unless the block was above its mmap threshold, and it
raises that threshold to the largest block freed so far (up to 32 MiB). The activations of a forward pass
are such blocks, of a new size on almost every call, so after a few calls they all stay in the heap: on
the seeds' 100-document benchmark the Predictor's peak was 374 MiB (ONNX int8, NER+RE) and 627 MiB (torch
bf16), and 293 and 540 MiB with the thresholds fixed at 128 KiB (the same as setting
``MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072`` in the environment). A process that sets
either variable itself keeps its own setting; other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

THRESHOLD = 128 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
_ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_applied: bool | None = None


def return_freed_memory() -> bool:
    """Fix glibc's mmap and trim thresholds at :data:`THRESHOLD` (once per process); whether they are set."""
    global _applied
    if _applied is None:
        _applied = _set_thresholds()
    return _applied


def _set_thresholds() -> bool:
    if not sys.platform.startswith("linux") or any(name in os.environ for name in _ENVIRONMENT):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        _ = libc.gnu_get_libc_version  # only glibc has it: musl's mallopt is a no-op
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, THRESHOLD))
