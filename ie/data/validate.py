"""Checks annotations against the schema and the text before anything trains on them.

Offsets, span text, surrounding spaces and punctuation, word-boundary alignment, overlaps, unknown
labels, allowed relation argument types, relations across sentences, symmetric relation order and
duplicates; warnings for empty documents and texts with no annotation. ``python -m ie.validate``
prints every problem as ``file:line: severity: reason``; training runs the same checks on its
configured splits, stops on errors and logs warnings. Warnings never stop a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from ie.data.documents import Document
from ie.data.problems import Problem
from ie.data.schema import Schema
from ie.data.text import DEFAULT_SEGMENTER, Sentence, SpanLocator, WordSpan, split_sentences

_EDGE_PUNCT = set(" \t\r\n.,;:!?\"'“”‘’«»()[]{}")


def _is_punctuation(token: str) -> bool:
    return all(ch in _EDGE_PUNCT for ch in token)


def validate_document(
    doc: Document,
    schema: Schema,
    sentences: Sequence[Sentence] | None = None,
    edge_punctuation: str = "error",
    expect_annotations: bool = True,
    segmenter: str = DEFAULT_SEGMENTER,
) -> tuple[list[Problem], dict[str, WordSpan]]:
    """Problems in one document, and the word span of every entity that could be located.

    ``edge_punctuation``: severity for a span whose first or last word is only punctuation ("U.S."
    is fine, "Lipetsk ," is not); published benchmarks that contain such spans use "warning".
    ``expect_annotations``: warn about a text with no annotation at all (a forgotten ``.ann``); off
    for benchmark sentences, where entity-free sentences are part of the data. ``segmenter`` makes the
    words when ``sentences`` is not given (:mod:`ie.data.text`).
    """
    path = doc.source or doc.id
    problems: list[Problem] = []
    if not doc.text.strip():
        problems.append(Problem(path, None, "empty document", "warning"))
    elif expect_annotations and not doc.entities and not doc.relations:
        problems.append(
            Problem(
                path,
                None,
                "no annotations (an unannotated text trains the model that nothing in it is an entity)",
                "warning",
            )
        )
    if sentences is None:  # the document's own words where its format gave them (CoNLL, spaCy)
        sentences = doc.sentences if doc.sentences is not None else split_sentences(doc.text, segmenter)
    spans = _locate_entities(doc, schema, sentences, edge_punctuation, problems)
    problems += _overlaps(doc, spans, path)
    problems += _relation_problems(doc, schema, spans, path)
    return problems, spans


def _locate_entities(
    doc: Document, schema: Schema, sentences: Sequence[Sentence], edge_punctuation: str, problems: list[Problem]
) -> dict[str, WordSpan]:
    """The word span of each entity whose label, offsets and text check out; the rest go to ``problems``."""
    path = doc.source or doc.id
    locator = SpanLocator(sentences)
    labels = set(schema.entity_labels)
    spans: dict[str, WordSpan] = {}
    for ent in doc.entities:
        actual = doc.text[ent.start : ent.end]
        if ent.label not in labels:
            reason = f"unknown entity label '{ent.label}' (schema has {sorted(labels)})"
        elif not 0 <= ent.start < ent.end <= len(doc.text):
            reason = f"offsets {ent.start}-{ent.end} outside the text (length {len(doc.text)})"
        elif actual != ent.text:
            reason = f"span text {ent.text!r} does not match the text at {ent.start}-{ent.end}: {actual!r}"
        elif actual[0].isspace() or actual[-1].isspace():
            reason = f"span {actual!r} starts or ends with a space"
        else:
            located = locator.locate(ent.start, ent.end)
            reason = f"entity {ent.id} {actual!r}: {located}" if isinstance(located, str) else ""
        if reason:
            problems.append(Problem(path, ent.line, reason))
            continue
        words = sentences[located.sentence].tokens
        if _is_punctuation(words[located.start].text) or _is_punctuation(words[located.end - 1].text):
            problems.append(
                Problem(path, ent.line, f"span {actual!r} starts or ends with a punctuation word", edge_punctuation)
            )
            if edge_punctuation == "error":
                continue
        spans[ent.id] = located
    return spans


def _overlaps(doc: Document, spans: Mapping[str, WordSpan], path: str) -> list[Problem]:
    ordered = sorted((e for e in doc.entities if e.id in spans), key=lambda e: (e.start, e.end))
    problems = []
    for prev, cur in zip(ordered, ordered[1:]):
        if cur.start < prev.end:
            what = "duplicate of" if (cur.start, cur.end) == (prev.start, prev.end) else "overlaps"
            problems.append(
                Problem(
                    path, cur.line, f"entity {cur.id} {cur.text!r} {what} {prev.id} {prev.text!r} (line {prev.line})"
                )
            )
    return problems


def _relation_problems(doc: Document, schema: Schema, spans: Mapping[str, WordSpan], path: str) -> list[Problem]:
    by_id = {e.id: e for e in doc.entities}
    problems: list[Problem] = []
    seen: dict[tuple, int] = {}
    for rel in doc.relations:
        missing = [a for a in (rel.head, rel.tail) if a not in by_id]
        if rel.label not in schema.relation_labels[1:]:
            reason = f"unknown relation label '{rel.label}' (schema has {schema.relation_labels[1:]})"
        elif missing:
            reason = f"relation {rel.id} refers to unknown entity id(s) {missing}"
        elif rel.head not in spans or rel.tail not in spans:
            continue  # its entity is already reported; checking types against it would only echo that
        else:
            reason = _relation_reason(rel, by_id[rel.head], by_id[rel.tail], schema, spans)
        if reason:
            problems.append(Problem(path, rel.line, reason))
            continue
        key = (rel.label, rel.head, rel.tail)
        if key in seen:
            problems.append(Problem(path, rel.line, f"relation {rel.id} repeats line {seen[key]}", "warning"))
        seen.setdefault(key, rel.line)
    return problems


def _relation_reason(rel, head, tail, schema: Schema, spans: Mapping[str, WordSpan]) -> str:
    """Why a relation between two located entities is not allowed ('' when it is)."""
    if rel.head == rel.tail:
        return f"relation {rel.id} links {rel.head} to itself"
    rtype = schema.relation(rel.label)
    if not rtype.fits(head.label, tail.label):
        return (
            f"relation {rel.id} {rel.label}({head.label} -> {tail.label}) not allowed: "
            f"schema wants {'|'.join(rtype.heads)} -> {'|'.join(rtype.tails)}"
        )
    if spans[rel.head].sentence != spans[rel.tail].sentence:
        return f"relation {rel.id} {rel.label} links {head.text!r} and {tail.text!r} in different sentences"
    if rtype.symmetric and head.start > tail.start:
        return (
            f"symmetric relation {rel.id} {rel.label} must have the earlier mention as head "
            f"(write Arg1:{rel.tail} Arg2:{rel.head})"
        )
    return ""


def overlap_problems(
    contents: Mapping[str, str], splits: Mapping[str, Sequence[str]], sources: Mapping[str, str] | None = None
) -> list[Problem]:
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
                problems.append(
                    Problem(
                        where,
                        None,
                        f"document {doc_id} ({split}) has the same text as {other} "
                        f"({other_split}): one article in two splits",
                    )
                )
            else:
                problems.append(
                    Problem(where, None, f"document {doc_id} repeats the text of {other} (both in {split})", "warning")
                )
    return problems


def label_counts(docs: Iterable[Document]) -> tuple[Counter, Counter]:
    ents, rels = Counter(), Counter()
    for doc in docs:
        ents.update(e.label for e in doc.entities)
        rels.update(r.label for r in doc.relations)
    return ents, rels
