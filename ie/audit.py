"""``python -m ie.audit RUNS [RUNS ...] [--min-score 0.9] [--min-agreement 1.0] [--output audit.md]``: where
cross-validated models disagree with the gold confidently, each to read against the guidelines (the audit
itself is :mod:`ie.evaluation.audit`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ie.errors import guarded

GUIDELINES = Path(__file__).resolve().parents[1] / "docs" / "annotation.md"


def run_audit(args) -> int:
    from ie import atomic
    from ie.evaluation.audit import audit, audit_markdown

    items = audit(args.runs, args.split, args.min_score, args.min_agreement)
    guidelines = args.guidelines.read_text(encoding="utf-8") if args.guidelines.is_file() else ""
    page = audit_markdown(items, guidelines, shlex.join(["python", "-m", "ie.audit", *sys.argv[1:]]))
    if args.output:
        atomic.write_text(args.output, page)
        print(f"{len(items)} places to read: {args.output}")
    else:
        print(page, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ie.audit", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run folders, or folders of runs (a cross-validation sweep)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--min-score", type=float, default=0.9, help="mean score of a disagreement (default 0.9)")
    parser.add_argument(
        "--min-agreement", type=float, default=1.0, help="share of the runs that made it (default 1.0: every seed)"
    )
    parser.add_argument("--guidelines", type=Path, default=GUIDELINES, help="for the section of each label")
    parser.add_argument("--output", type=Path, help="write the Markdown here instead of printing it")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an expected error")
    args = parser.parse_args(argv)
    return guarded("ie.audit", lambda: run_audit(args), args.debug)


if __name__ == "__main__":
    sys.exit(main())
