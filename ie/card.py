"""``python -m ie.card RUN [RUN ...] [--debug]``: write a run folder's model card (``RUN/README.md``)
again, for example for a run made before cards existed (the card itself is :mod:`ie.evaluation.card`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ie.errors import guarded


def write_cards(runs: list[Path]) -> int:
    from ie.evaluation.card import write_model_card

    for run in runs:
        print(write_model_card(run))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ie.card", description="(Re)write a run folder's model card")
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an expected error")
    args = parser.parse_args(argv)
    return guarded("ie.card", lambda: write_cards(args.runs), args.debug)


if __name__ == "__main__":
    sys.exit(main())
