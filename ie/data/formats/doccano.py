"""doccano's JSONL, read for training and written for import: one document per line.

A project with relations exports ``{"id", "text", "entities": [{"id", "label", "start_offset",
"end_offset"}], "relations": [{"id", "from_id", "to_id", "type"}]}``; a sequence-labelling project
without relations exports ``{"id", "text", "label": [[start, end, LABEL], ...]}``. Both are read.
Writing uses the first form. The document id is ``doc_id`` where this module wrote it (doccano keeps
unknown keys as metadata), else doccano's ``id``, else the line number. doccano has no field for a
model's score, so scores are not written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ie import atomic
from ie.data.documents import Document, EntityAnnotation, RelationAnnotation
from ie.data.problems import AnnotationError

RELATIONS = True


def _entity(text: str, start, end, label, entity_id: str, path: Path, line: int) -> EntityAnnotation:
    if not (isinstance(start, int) and isinstance(end, int)):
        raise AnnotationError(path, line, f"entity {entity_id}: offsets must be integers, got {start!r} {end!r}")
    if not 0 <= start < end <= len(text):
        raise AnnotationError(
            path, line, f"entity {entity_id}: offsets {start}-{end} outside the text (length {len(text)})"
        )
    if not isinstance(label, str):
        raise AnnotationError(path, line, f"entity {entity_id}: label must be a string, got {label!r}")
    return EntityAnnotation(f"T{entity_id}", label, start, end, text[start:end])


def _line_document(item, path: Path, line: int) -> Document:
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise AnnotationError(path, line, "a doccano line is an object with a 'text' string")
    text = item["text"]
    entities, relations = [], []
    if "entities" in item:
        for ent in item["entities"] or []:
            if not isinstance(ent, dict) or "id" not in ent:
                raise AnnotationError(path, line, f"entity {ent!r} lacks its 'id'")
            if f"T{ent['id']}" in {e.id for e in entities}:
                raise AnnotationError(path, line, f"entity id {ent['id']!r} repeats")
            entities.append(
                _entity(
                    text, ent.get("start_offset"), ent.get("end_offset"), ent.get("label"), str(ent["id"]), path, line
                )
            )
        known = {e.id for e in entities}
        for k, rel in enumerate(item.get("relations") or []):
            if not isinstance(rel, dict):
                raise AnnotationError(path, line, f"relation {k} is not an object")
            head, tail = f"T{rel.get('from_id')}", f"T{rel.get('to_id')}"
            for key, ref in (("from_id", head), ("to_id", tail)):
                if ref not in known:
                    raise AnnotationError(
                        path, line, f"relation {rel.get('id', k)}: {key} {rel.get(key)!r} is no entity of this line"
                    )
            if not isinstance(rel.get("type"), str):
                raise AnnotationError(path, line, f"relation {rel.get('id', k)}: 'type' must be a label string")
            relations.append(RelationAnnotation(f"R{rel.get('id', k)}", rel["type"], head, tail))
    else:
        for k, span in enumerate(item.get("label") or []):
            if not (isinstance(span, (list, tuple)) and len(span) == 3):
                raise AnnotationError(path, line, f"label {k}: expected [start, end, LABEL], got {span!r}")
            entities.append(_entity(text, *span, str(k + 1), path, line))
    doc_id = str(item.get("doc_id", item.get("id", line)))
    return Document(doc_id, text, entities, relations, source=f"{path}:{line}")


def read_documents(path: str | Path) -> list[Document]:
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, None, "doccano JSONL file not found")
    docs = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise AnnotationError(path, None, f"not valid UTF-8 (byte {err.start})") from None
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as err:
            raise AnnotationError(path, number, f"invalid JSON ({err.msg}); is the file complete?") from None
        docs.append(_line_document(item, path, number))
    if not docs:
        raise AnnotationError(path, None, "no documents (the file is empty)")
    return docs


def line(doc: Document) -> dict:
    numbers = {e.id: i for i, e in enumerate(doc.entities, start=1)}
    return {
        "doc_id": doc.id,
        "text": doc.text,
        "entities": [
            {"id": numbers[e.id], "label": e.label, "start_offset": e.start, "end_offset": e.end} for e in doc.entities
        ],
        "relations": [
            {"id": i, "from_id": numbers[r.head], "to_id": numbers[r.tail], "type": r.label}
            for i, r in enumerate(doc.relations, start=1)
        ],
    }


def write_documents(
    docs: Sequence[Document], path: str | Path, segmenter: str | None = None, model_version: str | None = None
) -> None:
    atomic.write_text(path, "".join(json.dumps(line(doc), ensure_ascii=False) + "\n" for doc in docs))
