"""``python -m ie.agreement FIRST SECOND [--schema PATH] [--json OUT]``: inter-annotator agreement between
two brat folders that annotate the same texts independently (strict entity and relation F1, per type
and overall; :mod:`ie.evaluation.agreement`). Every document of SECOND must be in FIRST with the same
text."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ie.errors import guarded


def report(first: Path, second: Path, schema_path: Path | None, json_out: Path | None) -> int:
    from ie import atomic
    from ie.data.formats import brat
    from ie.data.schema import Schema
    from ie.evaluation.agreement import agreement, agreement_markdown

    schema = Schema.load(schema_path or first / "schema.json")
    result = agreement(brat.read_folder(first), brat.read_folder(second), schema)
    print(f"{len(result['documents'])} documents annotated twice: {', '.join(result['documents'])}\n")
    print(agreement_markdown(result), end="")
    if json_out:
        atomic.write_text(json_out, json.dumps(result, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ie.agreement", description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path, help="brat folder of the first annotation")
    parser.add_argument("second", type=Path, help="brat folder of the second annotation (a subset of the texts)")
    parser.add_argument("--schema", type=Path, help="schema JSON (default: FIRST/schema.json)")
    parser.add_argument("--json", type=Path, dest="json_out", help="also write the scores as JSON here")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an expected error")
    args = parser.parse_args(argv)
    return guarded("ie.agreement", lambda: report(args.first, args.second, args.schema, args.json_out), args.debug)


if __name__ == "__main__":
    sys.exit(main())
