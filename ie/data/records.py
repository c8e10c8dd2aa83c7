"""Sentence records: what every reader produces and everything downstream starts from.

A record is one sentence of one document: its words with character offsets, its entities as word
spans and its relations as pairs of entity indices. :func:`document_records` makes them from an
annotated document (mapping its labels first, when a label map is given) after validation has
passed, so a record is always consistent with the schema and the text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ie.data.bio import spans_to_tags
from ie.data.documents import Document
from ie.data.label_map import LabelMap
from ie.data.problems import Problem, ValidationError
from ie.data.schema import Schema
from ie.data.text import DEFAULT_SEGMENTER, Sentence, split_sentences
from ie.data.validate import validate_document


@dataclass
class SentenceRecord:
    doc_id: str
    sent_index: int
    start: int  # character offsets of the sentence in its document
    end: int
    words: list[str]
    word_starts: list[int]
    word_ends: list[int]
    entities: list[tuple[int, int, str]] = field(default_factory=list)  # word start, word end (excl.), label
    relations: list[tuple[int, int, str]] = field(default_factory=list)  # head index, tail index, label

    def bio_tags(self) -> list[str]:
        return spans_to_tags(len(self.words), self.entities)


def document_records(
    doc: Document,
    schema: Schema,
    sentences: Sequence[Sentence] | None = None,
    edge_punctuation: str = "error",
    warnings: list | None = None,
    expect_annotations: bool = True,
    label_map: LabelMap | None = None,
    segmenter: str = DEFAULT_SEGMENTER,
) -> list[SentenceRecord]:
    """Segment with ``segmenter`` (unless pre-tokenised ``sentences`` are given, or the document has its own) and
    validate one document; raises
    :class:`ValidationError` on any error and appends warnings to ``warnings`` when given.

    With ``label_map`` the document's labels are mapped to ``schema`` (the target) first, so the
    mapped annotations are what is validated."""
    mapping_problems = []
    if label_map is not None:
        doc, mapping_problems = label_map.apply(doc)
    if sentences is None:
        sentences = doc.sentences if doc.sentences is not None else split_sentences(doc.text, segmenter)
    problems, spans = validate_document(doc, schema, sentences, edge_punctuation, expect_annotations)
    problems = mapping_problems + problems
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ValidationError(errors)
    if warnings is not None:
        warnings += problems
    records = [
        SentenceRecord(
            doc.id,
            i,
            s.start,
            s.end,
            [t.text for t in s.tokens],
            [t.start for t in s.tokens],
            [t.end for t in s.tokens],
        )
        for i, s in enumerate(sentences)
    ]
    index: dict[str, tuple[int, int]] = {}
    for ent in sorted(doc.entities, key=lambda e: e.start):
        span = spans[ent.id]
        record = records[span.sentence]
        index[ent.id] = (span.sentence, len(record.entities))
        record.entities.append((span.start, span.end, ent.label))
    for rel in doc.relations:
        (s, h), (_, t) = index[rel.head], index[rel.tail]
        if (h, t, rel.label) not in records[s].relations:  # a repeated line is a warning, kept once
            records[s].relations.append((h, t, rel.label))
    return records


def documents_records(
    docs: Iterable[Document],
    schema: Schema,
    warnings: list | None = None,
    label_map: LabelMap | None = None,
    segmenter: str = DEFAULT_SEGMENTER,
) -> dict[str, list[SentenceRecord]]:
    """Validated records of every document by id: what a reader returns once its format is parsed. Every
    problem of every document is reported together; two documents with one id are an error."""
    records: dict[str, list[SentenceRecord]] = {}
    sources: dict[str, str] = {}
    problems = []
    for doc in docs:
        if doc.id in records or doc.id in sources:
            problems.append(
                Problem(doc.source or doc.id, None, f"document id '{doc.id}' repeats (first in {sources[doc.id]})")
            )
            continue
        sources[doc.id] = doc.source or doc.id
        try:
            records[doc.id] = document_records(doc, schema, warnings=warnings, label_map=label_map, segmenter=segmenter)
        except ValidationError as error:
            problems += error.problems
    if problems:
        raise ValidationError(problems)
    return records


def fingerprint(records: Mapping[str, Iterable[SentenceRecord]], schema: Schema) -> str:
    """Content hash of the annotated data and schema, recorded with every run."""
    digest = hashlib.sha256(json.dumps(schema.to_dict(), sort_keys=True).encode())
    for doc_id in sorted(records):
        for r in records[doc_id]:
            digest.update(json.dumps([doc_id, r.words, r.entities, r.relations]).encode())
    return digest.hexdigest()[:16]
