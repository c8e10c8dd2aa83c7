"""CoNLL04 in the SpERT JSON form (``data/conll04/conll04_{split}.json``) -> sentence records.

Each item is one pre-tokenised sentence. It becomes a one-sentence document whose text is the
tokens joined by single spaces, so it goes through exactly the validation the brat seeds go
through; the given tokens are kept (never re-tokenised). Each split file is one "document" for the
purpose of splits: ``data.splits: {train: [train], dev: [dev], test: [test]}``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ie.data.documents import Document, EntityAnnotation, RelationAnnotation
from ie.data.label_map import LabelMap
from ie.data.problems import Problem, ValidationError
from ie.data.records import SentenceRecord, document_records
from ie.data.schema import Schema
from ie.data.text import Sentence, Token

SPLITS = ("train", "dev", "test")


def item_record(item: dict, source: str, index: int, schema: Schema, warnings: list | None = None,
                label_map: LabelMap | None = None) -> SentenceRecord:
    """One JSON item as a validated record (labels mapped first with ``label_map``); errors name
    ``source[index]``."""
    where = f"{source}[{index}]"
    try:
        tokens_in = item["tokens"]
        entities_in, relations_in = item["entities"], item["relations"]
    except (KeyError, TypeError) as err:
        raise ValidationError([Problem(where, None, f"item lacks field {err}")]) from None
    tokens, offset = [], 0
    for word in tokens_in:
        tokens.append(Token(word, offset, offset + len(word)))
        offset += len(word) + 1
    text = " ".join(tokens_in)
    entities = []
    for k, ent in enumerate(entities_in):
        start, end = ent.get("start"), ent.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(tokens)):
            raise ValidationError([Problem(where, None, f"entity {k} has token span {start}-{end} outside "
                                                        f"the {len(tokens)} tokens")])
        a, b = tokens[start].start, tokens[end - 1].end
        entities.append(EntityAnnotation(f"T{k}", ent.get("type"), a, b, text[a:b], k + 1))
    relations = []
    for k, rel in enumerate(relations_in):
        relations.append(RelationAnnotation(f"R{k}", rel.get("type"), f"T{rel.get('head')}", f"T{rel.get('tail')}",
                                            len(entities_in) + k + 1))
    doc = Document(where, text, entities, relations, source=where)
    # The benchmark is scored as published: spans such as "N.Y ." keep their punctuation token.
    sentences = [Sentence(0, len(text), tuple(tokens))] if tokens else []
    (record,) = document_records(doc, schema, sentences, edge_punctuation="warning", warnings=warnings,
                                 expect_annotations=False, label_map=label_map)
    return record


def read_records(folder: str | Path, schema: Schema, warnings: list | None = None,
                 label_map: LabelMap | None = None, segmenter: str | None = None) -> dict[str, list[SentenceRecord]]:
    """The train/dev/test files of ``folder``; every problem of every item is reported together. The
    benchmark's own tokens are kept, so ``segmenter`` does not apply.

    Line numbers in problems count entities first, then relations, within the item (1-based).
    """
    folder = Path(folder)
    records: dict[str, list[SentenceRecord]] = {}
    problems: list[Problem] = []
    for split in SPLITS:
        path = folder / f"conll04_{split}.json"
        try:
            items = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValidationError([Problem(str(path), None, "file not found")]) from None
        except json.JSONDecodeError as err:
            raise ValidationError([Problem(str(path), err.lineno, f"invalid JSON: {err.msg}")]) from None
        split_records = []
        for index, item in enumerate(items):
            try:
                record = item_record(item, str(path), index, schema, warnings, label_map)
            except ValidationError as error:
                problems += error.problems
                continue
            record.doc_id, record.sent_index = split, index
            split_records.append(record)
        records[split] = split_records
    if problems:
        raise ValidationError(problems)
    return records
