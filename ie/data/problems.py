"""What validation finds: problems located by file and line, and the error that carries them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ie.errors import IEError

SHOWN = 50  # problems listed in the message; the error keeps all of them


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    reason: str
    severity: str = "error"  # or "warning": logged, never stops a run

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.reason}"


class ValidationError(IEError, ValueError):
    """Every error found in the data, reported together."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        shown = "\n".join(str(p) for p in self.problems[:SHOWN])
        more = f"\n... and {len(self.problems) - SHOWN} more" if len(self.problems) > SHOWN else ""
        super().__init__(f"{len(self.problems)} annotation error(s):\n{shown}{more}")


class AnnotationError(IEError, ValueError):
    """A problem in an annotation file that stops it being read at all, located by file and line (or by
    task, item or document where the format has no lines worth naming)."""

    def __init__(self, path, line: int | None, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {reason}")
