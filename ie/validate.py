"""``python -m ie.validate PATH [--format brat|label_studio|doccano|spacy|conll] [--schema PATH] [--split NAME=ID,ID
...] [--debug]``: check annotations (a brat folder by default) against the schema and their texts (the checks
are :mod:`ie.data.validate`, the ones training makes).

Prints every problem as ``file:line: severity: reason`` on stderr and the label counts per split on
stdout; exits 1 if any error was found.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ie.errors import guarded


def parse_split_options(options: Sequence[str], doc_ids: Sequence[str]) -> dict[str, list[str]]:
    """``["test=a,b", "train"]`` -> document ids per split; a split without ids takes the rest.
    Without options every document is in one split, ``all``."""
    from ie.data.folds import resolve_splits

    if not options:
        return {"all": list(doc_ids)}
    splits: dict[str, list[str] | None] = {}
    for option in options:
        name, _, ids = option.partition("=")
        splits[name] = [i for i in ids.split(",") if i] or None
    if None not in splits.values():
        splits["rest"] = None
    return {name: ids for name, ids in resolve_splits(doc_ids, splits, "--split").items() if ids or name != "rest"}


def check_folder(
    folder: Path, schema_path: Path | None, split_options: Sequence[str], segmenter: str = "spacy", fmt: str = "brat"
) -> int:
    """Print the problems and per-split counts of annotations in format ``fmt``; 1 if any error was found."""
    from ie.data.formats import get_format
    from ie.data.schema import Schema, SchemaError
    from ie.data.validate import label_counts, overlap_problems, validate_document

    docs = get_format(fmt, "--format").read(folder)
    if schema_path is None and not (folder / "schema.json").is_file():
        where = folder / "schema.json" if folder.is_dir() else folder
        raise SchemaError(
            f"{where}: no schema {'file' if folder.is_dir() else 'beside a single file'}; pass one "
            "with --schema PATH (for example --schema seeds/schema.json)"
        )
    schema = Schema.load(schema_path or folder / "schema.json")
    splits = parse_split_options(split_options, [doc.id for doc in docs])
    problems = [p for doc in docs for p in validate_document(doc, schema, segmenter=segmenter)[0]]
    problems += overlap_problems({d.id: d.text for d in docs}, splits, {d.id: d.source for d in docs})
    for problem in problems:
        print(problem, file=sys.stderr)
    by_id = {doc.id: doc for doc in docs}
    for split, doc_ids in splits.items():
        ents, rels = label_counts(by_id[d] for d in doc_ids)
        print(f"{split}: {len(doc_ids)} documents, {sum(ents.values())} entities, {sum(rels.values())} relations")
        for label in schema.entity_labels:
            print(f"  {label:<16}{ents[label]:>6}")
        for label in schema.relation_labels[1:]:
            print(f"  {label:<16}{rels[label]:>6}")
    errors = sum(p.severity == "error" for p in problems)
    print(f"{errors} error(s), {len(problems) - errors} warning(s)")
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ie.validate",
        description="Validate annotations (a brat folder, or another format's file) against the schema.",
    )
    parser.add_argument("folder", type=Path, help="a brat folder, or the file of --format")
    parser.add_argument("--format", default="brat", help="brat (default), label_studio, doccano, spacy, conll")
    parser.add_argument("--schema", type=Path, help="schema JSON (default: FOLDER/schema.json)")
    parser.add_argument(
        "--split",
        action="append",
        default=[],
        metavar="NAME[=ID,ID]",
        help="a split and its document ids (repeatable); a split without ids takes every "
        "document the others do not name. Counts are printed per split and the same "
        "text in two splits is an error. Example: --split test=004_8167059eeef70516",
    )
    parser.add_argument(
        "--segmenter",
        default="spacy",
        help="how text becomes words, as data.segmenter "
        "(spacy, spacy_keep_hyphens): an annotation must start and end at word boundaries",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an expected error")
    args = parser.parse_args(argv)
    return guarded(
        "ie.validate",
        lambda: check_folder(args.folder, args.schema, args.split, args.segmenter, args.format),
        args.debug,
    )


if __name__ == "__main__":
    sys.exit(main())
