"""``python -m ie.schema SCHEMA [--write annotation.conf]``: brat's ``annotation.conf`` for a schema
(the schema itself is :mod:`ie.data.schema`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ie.errors import guarded


def write_conf(schema_path: Path, out: Path | None) -> int:
    from ie.data.schema import Schema

    conf = Schema.load(schema_path).to_brat_conf()
    if out:
        out.write_text(conf, encoding="utf-8")
    else:
        print(conf, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ie.schema", description="Print brat's annotation.conf for a schema."
    )
    parser.add_argument("schema", type=Path)
    parser.add_argument("--write", type=Path, help="write annotation.conf here instead of printing")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an expected error")
    args = parser.parse_args(argv)
    return guarded("ie.schema", lambda: write_conf(args.schema, args.write), args.debug)


if __name__ == "__main__":
    sys.exit(main())
