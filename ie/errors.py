"""Expected errors, and how the commands report them.

An expected error is one the user can fix: bad data, a bad setting, a missing or damaged file. Its
message names the file, line or field and what to do. Every command (``train.py``, ``evaluate.py``,
``python -m ie.predict``, ...) prints it as one line, ``<command>: error: <message>``, and exits with
status 1. A traceback is for bugs; for an expected error it is shown only on request: ``--debug`` on
the argparse commands, ``HYDRA_FULL_ERROR=1`` (Hydra's own switch) on any of them.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable


class IEError(Exception):
    """Base of every expected error; its message is what the user reads."""


class ConfigError(IEError, ValueError):
    """A setting that cannot work: a config key or a keyword argument, named in the message."""


def wants_traceback(debug: bool = False) -> bool:
    return debug or os.environ.get("HYDRA_FULL_ERROR") == "1"


def report(command: str, error: IEError) -> int:
    """Print ``error`` for the user and return the exit status."""
    print(f"{command}: error: {error}", file=sys.stderr)
    return 1


def guarded(command: str, action: Callable[[], int | None], debug: bool = False) -> int:
    """``action()``'s exit status, or 1 after one line for an expected error (argparse commands)."""
    try:
        return action() or 0
    except IEError as error:
        if wants_traceback(debug):
            raise
        return report(command, error)


@contextmanager
def reported(command: str, debug: bool = False):
    """Exit with one line for an expected error (Hydra commands, whose return value is no exit status)."""
    try:
        yield
    except IEError as error:
        if wants_traceback(debug):
            raise
        raise SystemExit(report(command, error)) from None
