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
from collections.abc import Callable
from contextlib import contextmanager


class IEError(Exception):
    """Base of every expected error; its message is what the user reads."""


class ConfigError(IEError, ValueError):
    """A setting that cannot work: a config key or a keyword argument, named in the message."""


class MissingExtra(IEError, ImportError):
    """The install lacks the pip extra a command needs (:mod:`ie.extras`)."""


def as_missing_extra(error: ModuleNotFoundError) -> MissingExtra | None:
    """``error`` as the extra to install, when an extra of the project provides the module it missed."""
    from ie.extras import extra_for, install_hint

    extra = extra_for(error)
    if extra is None:
        return None
    return MissingExtra(
        f"this needs the '{extra}' extra, which is not installed (no module '{error.name}'): {install_hint(extra)}"
    )


def require_extra(extra: str) -> None:
    """Fail in one line, before any work, when a module of ``extra`` is not installed."""
    from ie.extras import install_hint, missing_modules

    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(
            f"this needs the '{extra}' extra, which is not installed (no module '{missing[0]}'): {install_hint(extra)}"
        )


def exit_if_plugins_missing(command: str, argv: list[str]) -> None:
    """Before Hydra composes: an override that needs a Hydra plugin the install lacks, as one line."""
    from ie.extras import install_hint, missing_plugins

    for override, plugin, extra in missing_plugins(argv):
        raise SystemExit(
            report(
                command,
                MissingExtra(
                    f"{override} needs the Hydra plugin {plugin} of the '{extra}' extra: {install_hint(extra)}"
                ),
            )
        )


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
    except ModuleNotFoundError as error:
        missing = as_missing_extra(error)
        if missing is None or wants_traceback(debug):
            raise
        return report(command, missing)


@contextmanager
def reported(command: str, debug: bool = False):
    """Exit with one line for an expected error (Hydra commands, whose return value is no exit status)."""
    try:
        yield
    except IEError as error:
        if wants_traceback(debug):
            raise
        raise SystemExit(report(command, error)) from None
    except ModuleNotFoundError as error:
        missing = as_missing_extra(error)
        if missing is None or wants_traceback(debug):
            raise
        raise SystemExit(report(command, missing)) from None
