"""Checks annotations against the schema and the text before anything trains on them.

``python -m ie.validate seeds/ [--split test=ID,ID ...]`` prints every problem as
``file:line: severity: reason`` and the label counts per split; training runs the same checks on its
configured splits, stops on errors and logs warnings. Warnings never stop a run.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ie.align import SpanLocator, WordSpan
from ie.brat import AnnotationError, Document, read_folder
from ie.schema import Schema
from ie.text import split_sentences

_EDGE_PUNCT = set(" \t\r\n.,;:!?\"'“”‘’«»()[]{}")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    reason: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.reason}"


class ValidationError(ValueError):
    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        shown = "\n".join(str(p) for p in self.problems[:50])
        more = f"\n... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"{len(self.problems)} annotation error(s):\n{shown}{more}")


def _is_punctuation(token: str) -> bool:
    return all(ch in _EDGE_PUNCT for ch in token)


def validate_document(doc: Document, schema: Schema, sentences=None, edge_punctuation: str = "error",
                      expect_annotations: bool = True) -> tuple[list[Problem], dict[str, WordSpan]]:
    """Problems in one document, and the word span of every entity that could be located.

    ``edge_punctuation``: severity for a span whose first or last word is only punctuation ("U.S."
    is fine, "Lipetsk ," is not); published benchmarks that contain such spans use "warning".
    ``expect_annotations``: warn about a text with no annotation at all (a forgotten ``.ann``); off
    for benchmark sentences, where entity-free sentences are part of the data.
    """
    path = doc.source or doc.id
    problems: list[Problem] = []
    err = lambda line, reason: problems.append(Problem(path, line, reason))  # noqa: E731
    if not doc.text.strip():
        problems.append(Problem(path, None, "empty document", "warning"))
    elif expect_annotations and not doc.entities and not doc.relations:
        problems.append(Problem(path, None, "no annotations (an unannotated text trains the model that nothing "
                                            "in it is an entity)", "warning"))
    sentences = split_sentences(doc.text) if sentences is None else sentences
    locator = SpanLocator(sentences)
    labels = set(schema.entity_labels)
    spans: dict[str, WordSpan] = {}
    for ent in doc.entities:
        if ent.label not in labels:
            err(ent.line, f"unknown entity label '{ent.label}' (schema has {sorted(labels)})")
            continue
        if not 0 <= ent.start < ent.end <= len(doc.text):
            err(ent.line, f"offsets {ent.start}-{ent.end} outside the text (length {len(doc.text)})")
            continue
        actual = doc.text[ent.start:ent.end]
        if actual != ent.text:
            err(ent.line, f"span text {ent.text!r} does not match the text at {ent.start}-{ent.end}: {actual!r}")
            continue
        if actual[0].isspace() or actual[-1].isspace():
            err(ent.line, f"span {actual!r} starts or ends with a space")
            continue
        located = locator.locate(ent.start, ent.end)
        if isinstance(located, str):
            err(ent.line, f"entity {ent.id} {actual!r}: {located}")
            continue
        words = sentences[located.sentence].tokens
        if _is_punctuation(words[located.start].text) or _is_punctuation(words[located.end - 1].text):
            problems.append(Problem(path, ent.line, f"span {actual!r} starts or ends with a punctuation word",
                                    edge_punctuation))
            if edge_punctuation == "error":
                continue
        spans[ent.id] = located
    ordered = sorted((e for e in doc.entities if e.id in spans), key=lambda e: (e.start, e.end))
    for prev, cur in zip(ordered, ordered[1:]):
        if cur.start < prev.end:
            what = "duplicate of" if (cur.start, cur.end) == (prev.start, prev.end) else "overlaps"
            err(cur.line, f"entity {cur.id} {cur.text!r} {what} {prev.id} {prev.text!r} (line {prev.line})")
    by_id = {e.id: e for e in doc.entities}
    seen: dict[tuple, int] = {}
    for rel in doc.relations:
        if rel.label not in schema.relation_labels[1:]:
            err(rel.line, f"unknown relation label '{rel.label}' (schema has {schema.relation_labels[1:]})")
            continue
        missing = [a for a in (rel.head, rel.tail) if a not in by_id]
        if missing:
            err(rel.line, f"relation {rel.id} refers to unknown entity id(s) {missing}")
            continue
        if rel.head not in spans or rel.tail not in spans:
            continue  # its entity is already reported; checking types against it would only echo that
        if rel.head == rel.tail:
            err(rel.line, f"relation {rel.id} links {rel.head} to itself")
            continue
        head, tail = by_id[rel.head], by_id[rel.tail]
        rtype = schema.relation(rel.label)
        if not rtype.fits(head.label, tail.label):
            err(rel.line, f"relation {rel.id} {rel.label}({head.label} -> {tail.label}) not allowed: "
                          f"schema wants {'|'.join(rtype.heads)} -> {'|'.join(rtype.tails)}")
            continue
        if spans[rel.head].sentence != spans[rel.tail].sentence:
            err(rel.line, f"relation {rel.id} {rel.label} links {head.text!r} and {tail.text!r} in different sentences")
            continue
        if rtype.symmetric and head.start > tail.start:
            err(rel.line, f"symmetric relation {rel.id} {rel.label} must have the earlier mention as head "
                          f"(write Arg1:{rel.tail} Arg2:{rel.head})")
            continue
        key = (rel.label, rel.head, rel.tail)
        if key in seen:
            problems.append(Problem(path, rel.line, f"relation {rel.id} repeats line {seen[key]}", "warning"))
        seen.setdefault(key, rel.line)
    return problems, spans


def overlap_problems(contents: Mapping[str, str], splits: Mapping[str, Sequence[str]],
                     sources: Mapping[str, str] | None = None) -> list[Problem]:
    """The same text under two document ids (compared with whitespace collapsed).

    Across splits it is an error, since a test article seen in training inflates every score; within
    one split it is a warning (the article counts twice). Empty texts are reported elsewhere.
    """
    sources = sources or {}
    first: dict[str, tuple[str, str]] = {}
    problems = []
    for split, doc_ids in splits.items():
        for doc_id in doc_ids:
            key = " ".join(contents[doc_id].split())
            if not key:
                continue
            if key not in first:
                first[key] = (split, doc_id)
                continue
            other_split, other = first[key]
            where = sources.get(doc_id, doc_id)
            if other_split != split:
                problems.append(Problem(where, None, f"document {doc_id} ({split}) has the same text as {other} "
                                                     f"({other_split}): one article in two splits"))
            else:
                problems.append(Problem(where, None, f"document {doc_id} repeats the text of {other} "
                                                     f"(both in {split})", "warning"))
    return problems


def label_counts(docs: Iterable[Document]) -> tuple[Counter, Counter]:
    ents, rels = Counter(), Counter()
    for doc in docs:
        ents.update(e.label for e in doc.entities)
        rels.update(r.label for r in doc.relations)
    return ents, rels


def parse_split_options(options: Sequence[str], doc_ids: Sequence[str]) -> dict[str, list[str]]:
    """``["test=a,b", "train"]`` -> document ids per split; a split without ids takes the rest.
    Without options every document is in one split, ``all``."""
    from ie.dataset import resolve_splits  # dataset builds on this module

    if not options:
        return {"all": list(doc_ids)}
    splits: dict[str, list[str] | None] = {}
    for option in options:
        name, _, ids = option.partition("=")
        splits[name] = [i for i in ids.split(",") if i] or None
    if None not in splits.values():
        splits["rest"] = None
    return {name: ids for name, ids in resolve_splits(doc_ids, splits, "--split").items() if ids or name != "rest"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate a folder of brat annotations against the schema.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--schema", type=Path, help="schema JSON (default: FOLDER/schema.json)")
    parser.add_argument("--split", action="append", default=[], metavar="NAME[=ID,ID]",
                        help="a split and its document ids (repeatable); a split without ids takes every "
                             "document the others do not name. Counts are printed per split and the same "
                             "text in two splits is an error. Example: --split test=004_8167059eeef70516")
    args = parser.parse_args(argv)
    schema = Schema.load(args.schema or args.folder / "schema.json")
    try:
        docs = read_folder(args.folder)
        splits = parse_split_options(args.split, [doc.id for doc in docs])
    except (AnnotationError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    problems = [p for doc in docs for p in validate_document(doc, schema)[0]]
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


if __name__ == "__main__":
    sys.exit(main())
