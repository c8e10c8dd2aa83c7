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


def needs_extra(extra: str, module: str) -> MissingExtra:
    from ie.extras import install_hint

    return MissingExtra(
        f"this needs the '{extra}' extra, which is not installed (no module '{module}'): {install_hint(extra)}"
    )


def as_missing_extra(error: ModuleNotFoundError) -> MissingExtra | None:
    """``error`` as the extra to install, when an extra of the project provides the module it missed."""
    from ie.extras import extra_for

    extra = extra_for(error)
    return None if extra is None else needs_extra(extra, error.name)


def require_extra(extra: str) -> None:
    """Fail in one line, before any work, when a module of ``extra`` is not installed."""
    from ie.extras import missing_modules

    missing = missing_modules(extra)
    if missing:
        raise needs_extra(extra, missing[0])


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


def one_line_error(error: Exception, debug: bool = False) -> IEError | None:
    """``error`` as the one line a command prints: an expected error, or a module missing from an extra of the
    project; None (let it raise, with its traceback) for anything else, or when a traceback is asked for."""
    if wants_traceback(debug):
        return None
    if isinstance(error, IEError):
        return error
    return as_missing_extra(error) if isinstance(error, ModuleNotFoundError) else None


def guarded(command: str, action: Callable[[], int | None], debug: bool = False) -> int:
    """``action()``'s exit status, or 1 after one line for an expected error (argparse commands)."""
    try:
        return action() or 0
    except (IEError, ModuleNotFoundError) as error:
        if (shown := one_line_error(error, debug)) is None:
            raise
        return report(command, shown)


@contextmanager
def reported(command: str, debug: bool = False):
    """Exit with one line for an expected error (Hydra commands, whose return value is no exit status)."""
    try:
        yield
    except (IEError, ModuleNotFoundError) as error:
        if (shown := one_line_error(error, debug)) is None:
            raise
        raise SystemExit(report(command, shown)) from None
