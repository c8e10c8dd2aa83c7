"""Annotated documents -> Hugging Face ``DatasetDict``s for NER (sentences) and RE (candidate pairs).

Every reader produces :class:`SentenceRecord`s (words with character offsets, word-level entities and
relations); everything downstream starts from them, whatever the source format.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from ie.brat import Document, read_folder
from ie.label_map import LabelMap
from ie.metrics import spans_to_bio
from ie.schema import NO_RELATION, Schema
from ie.text import split_sentences
from ie.validate import ValidationError, validate_document

log = logging.getLogger(__name__)


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
        return spans_to_bio(len(self.words), self.entities)


def document_records(doc: Document, schema: Schema, sentences=None, edge_punctuation: str = "error",
                     warnings: list | None = None, expect_annotations: bool = True,
                     label_map: LabelMap | None = None) -> list[SentenceRecord]:
    """Segment (unless pre-tokenised ``sentences`` are given) and validate one document; raises
    :class:`ValidationError` on any error and appends warnings to ``warnings`` when given.

    With ``label_map`` the document's labels are mapped to ``schema`` (the target) first, so the
    mapped annotations are what is validated."""
    mapping_problems = []
    if label_map is not None:
        doc, mapping_problems = label_map.apply(doc)
    sentences = split_sentences(doc.text) if sentences is None else sentences
    problems, spans = validate_document(doc, schema, sentences, edge_punctuation, expect_annotations)
    problems = mapping_problems + problems
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ValidationError(errors)
    if warnings is not None:
        warnings += problems
    records = [
        SentenceRecord(doc.id, i, s.start, s.end, [t.text for t in s.tokens],
                       [t.start for t in s.tokens], [t.end for t in s.tokens])
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


def read_brat_records(folder: str | Path, schema: Schema, warnings: list | None = None,
                      label_map: LabelMap | None = None) -> dict[str, list[SentenceRecord]]:
    """All documents of a brat folder as records, validated; every error of every file is reported."""
    records, problems = {}, []
    for doc in read_folder(folder):
        try:
            records[doc.id] = document_records(doc, schema, warnings=warnings, label_map=label_map)
        except ValidationError as error:
            problems += error.problems
    if problems:
        raise ValidationError(problems)
    return records


# --- splits ------------------------------------------------------------------------------------

def resolve_splits(doc_ids: Sequence[str], splits: Mapping[str, Sequence[str] | None], source: str = "data.splits"
                   ) -> dict[str, list[str]]:
    """Document ids per split. A split given as ``null`` takes every document no other split names; a
    split given as ``[]`` is left out (a config merged over another cannot delete the other's key:
    ``data.splits.dev=[]`` removes the dev split of ``data=conll04``)."""
    known, named, rest = set(doc_ids), {}, [name for name, ids in splits.items() if ids is None]
    if len(rest) > 1:
        raise ValueError(f"{source}: only one split may be null (the remainder), got {rest}")
    owner: dict[str, str] = {}
    for name, ids in splits.items():
        if ids is None:
            continue
        for doc_id in ids:
            if doc_id not in known:
                raise ValueError(f"{source}.{name}: unknown document '{doc_id}' (known: {sorted(known)})")
            if doc_id in owner:
                raise ValueError(f"{source}: document '{doc_id}' is in both '{owner[doc_id]}' and '{name}'")
            owner[doc_id] = name
        named[name] = list(ids)
    if rest:
        named[rest[0]] = [d for d in doc_ids if d not in owner]
    return {name: named[name] for name, ids in splits.items() if ids is None or len(ids)}


# --- features ----------------------------------------------------------------------------------

def sentence_features(schema: Schema) -> Features:
    return Features({
        "doc_id": Value("string"),
        "sent_index": Value("int32"),
        "start": Value("int32"),
        "end": Value("int32"),
        "words": List(Value("string")),
        "word_starts": List(Value("int32")),
        "word_ends": List(Value("int32")),
        "ner_tags": List(ClassLabel(names=schema.bio_tags)),
        "entities": List({"start": Value("int32"), "end": Value("int32"),
                          "label": ClassLabel(names=schema.entity_labels)}),
        "relations": List({"head": Value("int32"), "tail": Value("int32"),
                           "label": ClassLabel(names=schema.relation_labels)}),
    })


def relation_features(schema: Schema) -> Features:
    span = {"start": Value("int32"), "end": Value("int32"), "label": ClassLabel(names=schema.entity_labels)}
    return Features({
        "doc_id": Value("string"),
        "sent_index": Value("int32"),
        "words": List(Value("string")),
        "head": span,
        "tail": span,
        "label": ClassLabel(names=schema.relation_labels),
    })


def candidate_pairs(entities: Sequence[tuple[int, int, str]], schema: Schema) -> list[tuple[int, int]]:
    """Ordered entity index pairs of one sentence whose types fit some relation signature."""
    return [(h, t) for h, (hs, _, hl) in enumerate(entities) for t, (ts, _, tl) in enumerate(entities)
            if h != t and schema.is_candidate(hl, hs, tl, ts)]


def relation_rows(record: SentenceRecord, schema: Schema) -> list[dict]:
    gold = {(h, t): label for h, t, label in record.relations}
    rows = []
    for h, t in candidate_pairs(record.entities, schema):
        (hs, he, hl), (ts, te, tl) = record.entities[h], record.entities[t]
        rows.append({"doc_id": record.doc_id, "sent_index": record.sent_index, "words": record.words,
                     "head": {"start": hs, "end": he, "label": hl}, "tail": {"start": ts, "end": te, "label": tl},
                     "label": gold.get((h, t), NO_RELATION)})
    return rows


def sentence_row(record: SentenceRecord) -> dict:
    return {"doc_id": record.doc_id, "sent_index": record.sent_index, "start": record.start, "end": record.end,
            "words": record.words, "word_starts": record.word_starts, "word_ends": record.word_ends,
            "ner_tags": record.bio_tags(),
            "entities": [{"start": s, "end": e, "label": lab} for s, e, lab in record.entities],
            "relations": [{"head": h, "tail": t, "label": lab} for h, t, lab in record.relations]}


@dataclass
class IEData:
    """The two views of one corpus: sentences with BIO tags (NER) and candidate pairs (RE)."""

    schema: Schema
    ner: DatasetDict
    re: DatasetDict
    splits: dict[str, list[str]]
    fingerprint: str


def build_datasets(records: Mapping[str, list[SentenceRecord]], schema: Schema,
                   splits: Mapping[str, Sequence[str] | None]) -> IEData:
    resolved = resolve_splits(list(records), splits)
    ner, rel = {}, {}
    for name, doc_ids in resolved.items():
        sents = [r for d in doc_ids for r in records[d]]
        ner[name] = _typed_dataset([sentence_row(r) for r in sents], sentence_features(schema))
        rel[name] = _typed_dataset([row for r in sents for row in relation_rows(r, schema)],
                                   relation_features(schema))
    return IEData(schema, DatasetDict(ner), DatasetDict(rel), resolved, fingerprint(records, schema))


def _typed_dataset(rows: list[dict], features: Features) -> Dataset:
    # Column-wise so that an empty split still carries its features (from_list([]) loses them).
    return Dataset.from_dict({key: [row[key] for row in rows] for key in features}, features=features)


def fingerprint(records: Mapping[str, Iterable[SentenceRecord]], schema: Schema) -> str:
    """Content hash of the annotated data and schema, recorded with every run."""
    digest = hashlib.sha256(json.dumps(schema.to_dict(), sort_keys=True).encode())
    for doc_id in sorted(records):
        for r in records[doc_id]:
            digest.update(json.dumps([doc_id, r.words, r.entities, r.relations]).encode())
    return digest.hexdigest()[:16]


def load_records(fmt: str, path: str | Path, schema: Schema, warnings: list | None = None,
                 label_map: LabelMap | None = None) -> dict[str, list[SentenceRecord]]:
    """Validated records of a corpus; errors raise :class:`ValidationError`, warnings go to ``warnings``.

    With ``label_map``, ``schema`` is the target schema and every document is mapped before it is
    validated (see :mod:`ie.label_map`); what the map kept and dropped is logged."""
    if fmt == "brat":
        records = read_brat_records(path, schema, warnings, label_map)
    elif fmt == "conll04":
        from ie.conll04 import read_conll04_records

        records = read_conll04_records(path, schema, warnings, label_map)
    else:
        raise ValueError(f"data.format: unknown format '{fmt}' (known: brat, conll04)")
    if label_map is not None:
        label_map.check_seen()
        log.info("%s: %s", path, label_map.describe())
    return records


def load_corpus(data_cfg, schema: Schema, warnings: list | None = None, label_report: dict | None = None
                ) -> tuple[dict[str, list[SentenceRecord]], dict[str, list[str]]]:
    """Records and resolved splits of a ``data`` config (its splits, or one cross-validation fold);
    training and evaluation both start here, so they always see the same split. Validation warnings
    go to ``warnings`` when given. With ``data.label_map`` set, ``schema`` is the target schema and the
    map's counts (:meth:`LabelMap.summary`) go to ``label_report["label_map"]`` when given."""
    from omegaconf import OmegaConf

    from ie.folds import apply_data_config

    label_map = LabelMap.from_config(data_cfg.get("label_map"), schema)
    records = load_records(data_cfg.format, data_cfg.path, schema, warnings, label_map)
    if label_map is not None and label_report is not None:
        label_report["label_map"] = label_map.summary()
    records, splits = apply_data_config(records, data_cfg)
    splits = OmegaConf.to_container(splits) if OmegaConf.is_config(splits) else splits
    source = f"data fold {data_cfg.fold} of {data_cfg.folds}" if data_cfg.get("folds", 0) else "data.splits"
    return records, resolve_splits(list(records), splits, source)


__all__ = ["SentenceRecord", "IEData", "build_datasets", "load_corpus", "load_records", "read_brat_records",
           "candidate_pairs", "resolve_splits"]
