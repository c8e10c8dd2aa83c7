"""Files that appear complete or not at all: written beside their target, then renamed over it."""

from __future__ import annotations

import os
from pathlib import Path


def write_text(path: str | Path, text: str, newline: str | None = None) -> Path:
    """Write ``text`` to ``path`` atomically. The temporary file is hidden and named per process, so
    readers never see a half-written file and concurrent writers (torchrun ranks) never share one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8", newline=newline) as handle:
        handle.write(text)
    tmp.replace(path)
    return path
