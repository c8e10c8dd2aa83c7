"""Files that appear complete or not at all: written beside their target, then renamed over it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A hidden temporary path beside ``path`` to write a file or a whole folder into; when the block ends
    without error it takes ``path``'s place (replacing what was there), and when it fails it is removed,
    so ``path`` holds the old content or the complete new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            # A folder cannot be renamed over a non-empty one: move the old one aside first.
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            path.replace(old)
            tmp.replace(path)
            shutil.rmtree(old)
        else:
            tmp.replace(path)
    except BaseException:
        _remove(tmp)
        raise
