"""bf16 only where the hardware runs it natively: the ``auto`` of ``trainer.bf16`` and of ``precision``.

A CPU without AVX512_BF16 or AMX (AMD Zen 2/3, older Intel, most laptops) has oneDNN emulate bf16:
one 256x384 @ 384x1536 matmul took 2.0 ms in fp32 and 140 ms under bf16 autocast on an AMD EPYC with
oneDNN limited to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``), 0.85 ms with its native AVX512_BF16. So ``auto``
is bf16 where native and fp32 elsewhere; :func:`bf16_native` is the one probe, and tests patch it.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os

from ie.errors import ConfigError

log = logging.getLogger(__name__)

EMULATED_COST = "bf16 matmuls are emulated there, about 65x slower than fp32"
# oneDNN ISA limits that still hold a native bf16 path (ONEDNN_MAX_CPU_ISA; unset or ALL: no limit)
_NATIVE_ISA_WORDS = ("BF16", "AMX", "AVX10", "ALL")
_warned: set[str] = set()


def cpu_name() -> str:
    """The CPU's model name, as the timings of ``ie.export`` and the benchmarks record it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


@functools.cache
def bf16_native(device: str = "cpu") -> tuple[bool, str]:
    """Whether bf16 matmuls run natively on ``device``, and why, in words for a log line."""
    import torch

    if device.startswith("cuda"):
        if torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False):
            return True, f"{torch.cuda.get_device_name(device)} has bf16"
        return False, f"{device} has no native bf16"
    cpu, isa = cpu_name(), torch.backends.cpu.get_cpu_capability()
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    if limit and not any(word in limit for word in _NATIVE_ISA_WORDS):
        return False, f"oneDNN is limited to {limit} (ONEDNN_MAX_CPU_ISA) on {cpu}"
    units = [
        name
        for name, has in (
            ("AMX", torch.cpu._is_amx_tile_supported()),
            ("AVX512_BF16", torch.cpu._is_avx512_bf16_supported()),
        )
        if has
    ]
    if units and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return True, f"{cpu} has {' and '.join(units)}"
    return False, f"{cpu} ({isa}) has neither AVX512_BF16 nor AMX"


def _torch_installed() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a finder that refuses it (a torch-free serving install)
        return False


def _device_of(use_cpu: bool = False) -> str:
    import torch

    return "cuda" if torch.cuda.is_available() and not use_cpu else "cpu"


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def resolve_bf16(setting, field: str = "trainer.bf16", use_cpu: bool = False) -> tuple[bool, str]:
    """``auto`` | ``true`` | ``false`` -> whether to train in bf16, and why. ``true`` where bf16 is emulated
    still trains in bf16, after one warning with its cost."""
    if isinstance(setting, str):
        setting = {"auto": "auto", "true": True, "false": False}.get(setting.strip().lower(), setting)
    if setting not in ("auto", True, False):
        raise ConfigError(f"{field}: expected auto, true or false, got {setting!r}")
    if setting is False:
        return False, f"{field}=false"
    native, why = bf16_native(_device_of(use_cpu))
    if setting == "auto":
        return native, f"{field}=auto: {why}"
    if not native:
        _warn_once(
            f"{field}=true on a device without native bf16 ({why}): {EMULATED_COST}; {field}=auto would train in fp32"
        )
    return True, f"{field}=true" + ("" if native else f" (emulated: {why})")


PRECISIONS = ("auto", "fp32", "bf16", "int8")


def resolve_precision(precision: str, device: str = "cpu", backend: str = "auto") -> tuple[str, str]:
    """An inference ``precision`` -> the one to run (``fp32``, ``bf16`` or ``int8``), and why. ``auto``:
    bf16 where native, else fp32; fp32 on ``backend=onnx``, which has no bf16 graph. int8 is never chosen
    for you: it changes predictions (docs/results/conll04_int8)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        if precision == "bf16" and device == "cpu":
            native, why = bf16_native(device)
            if not native:
                _warn_once(
                    f"precision=bf16 on a CPU without native bf16 ({why}): {EMULATED_COST}; "
                    "precision=auto would run fp32"
                )
        return precision, f"precision={precision}"
    if backend == "onnx":
        return "fp32", "precision=auto: backend=onnx runs fp32 (int8 only when asked)"
    if not _torch_installed():
        return "fp32", "precision=auto: torch is not installed, so the ONNX graphs run, in fp32"
    native, why = bf16_native(device)
    return ("bf16" if native else "fp32"), f"precision=auto: {why}"
