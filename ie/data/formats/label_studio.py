"""Label Studio's JSON export, read for training and written for import (gold or pre-annotations).

The file is a list of tasks, ``{"id", "data": {"text": ...}, "annotations": [{"result": [...]}],
"predictions": [...]}``. In a result list, a ``labels`` item is one entity, ``{"id", "type": "labels",
"value": {"start", "end", "text", "labels": [LABEL]}}``, and a ``relation`` item joins two of them by
those ids: ``{"type": "relation", "from_id", "to_id", "direction", "labels": [LABEL]}``, where direction
``right`` reads from -> to, ``left`` to -> from, and ``bi`` (both ways) is read in text order.

Reading takes each task's first annotation that was not cancelled; a task with more than one is
logged, a task with none is skipped and counted (an unannotated text would teach the model that nothing
in it is an entity). Results of other types (choices, text areas) are not entities or relations and
are counted as skipped. The document id is ``data.doc_id`` where this module wrote it, else the task id.

Offsets: Label Studio has stored both code points and JavaScript's UTF-16 units across versions (they
differ after a character outside the BMP, such as an emoji), so a span whose ``text`` does not match at
its offsets is read in UTF-16 units before it is called wrong.

Writing puts a gold document in ``annotations``, and a prediction (a document with scores) in
``predictions`` with each result's ``score`` and the task's lowest score, the form Label Studio imports
as pre-annotations. ``from_name``/``to_name`` are ``label``/``text``, the names of the labeling config
that :func:`labeling_config` writes (``python -m ie.convert`` puts it beside the file).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ie import atomic
from ie.data.documents import Document, EntityAnnotation, RelationAnnotation
from ie.data.problems import AnnotationError

log = logging.getLogger(__name__)

RELATIONS = True
FROM_NAME, TO_NAME, TEXT_KEY = "label", "text", "text"


def _utf16_to_code_points(text: str) -> dict[int, int]:
    """Code point offset of every UTF-16 offset that falls between characters."""
    table, units = {0: 0}, 0
    for i, char in enumerate(text, start=1):
        units += 2 if ord(char) > 0xFFFF else 1
        table[units] = i
    return table


def _span(text: str, value: dict, utf16: dict | None) -> tuple[int, int] | str:
    start, end = value.get("start"), value.get("end")
    if not (isinstance(start, int) and isinstance(end, int)):
        return f"start/end must be integers, got {start!r} {end!r}"
    given = value.get("text")
    if 0 <= start < end <= len(text) and (given is None or text[start:end] == given):
        return start, end
    if utf16 is not None and start in utf16 and end in utf16 and text[utf16[start] : utf16[end]] == given:
        return utf16[start], utf16[end]
    if not 0 <= start < end <= len(text):
        return f"offsets {start}-{end} outside the text (length {len(text)})"
    return f"span text {given!r} does not match the text at {start}-{end}: {text[start:end]!r}"


def _task_document(task, index: int, path: Path, counts: dict) -> Document | None:
    where = f"task {task.get('id', index) if isinstance(task, dict) else index} (item {index})"
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise AnnotationError(path, None, f"{where}: a task is an object with a 'data' object")
    text = task["data"].get(TEXT_KEY)
    if not isinstance(text, str):
        raise AnnotationError(
            path, None, f"{where}: data.{TEXT_KEY} is not a string (data keys: {sorted(task['data'])})"
        )
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")]
    if not annotations:
        counts["unannotated"] += 1
        return None
    if len(annotations) > 1:
        counts["several"] += 1
    result = annotations[0].get("result")
    if not isinstance(result, list):
        raise AnnotationError(path, None, f"{where}: annotation has no 'result' list")
    doc_id = str(task["data"].get("doc_id", task.get("id", index)))
    source = f"{path}[{where}]"
    entities, region_ids, pending = _spans(result, text, path, where, counts)
    relations = _relations(pending, region_ids, {e.id: e.start for e in entities}, path, where)
    return Document(doc_id, text, entities, relations, source=source)


def _spans(result: list, text: str, path: Path, where: str, counts: dict):
    """The entities of a result list, the entity id of each region id, and the relation items to read after."""
    utf16 = _utf16_to_code_points(text) if any(ord(c) > 0xFFFF for c in text) else None
    entities, pending, region_ids = [], [], {}
    for k, item in enumerate(result):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "labels":
            value = item.get("value") or {}
            labels = value.get("labels") or []
            if len(labels) != 1:
                raise AnnotationError(path, None, f"{where}, result {k}: a span needs exactly one label, got {labels}")
            span = _span(text, value, utf16)
            if isinstance(span, str):
                raise AnnotationError(path, None, f"{where}, result {k}: {span}")
            entity_id = f"T{len(entities) + 1}"
            region_ids[str(item.get("id", f"#{k}"))] = entity_id
            entities.append(EntityAnnotation(entity_id, labels[0], span[0], span[1], text[span[0] : span[1]]))
        elif kind == "relation":
            pending.append((k, item))
        else:
            counts["other results"] += 1
    return entities, region_ids, pending


def _relations(pending: list, region_ids: dict, starts: dict, path: Path, where: str) -> list[RelationAnnotation]:
    relations = []
    for k, item in pending:
        labels = item.get("labels") or []
        if len(labels) != 1:
            raise AnnotationError(path, None, f"{where}, result {k}: a relation needs exactly one label, got {labels}")
        ends = []
        for key in ("from_id", "to_id"):
            if str(item.get(key)) not in region_ids:
                raise AnnotationError(
                    path,
                    None,
                    f"{where}, result {k}: relation {key} {item.get(key)!r} is no labelled span of this annotation",
                )
            ends.append(region_ids[str(item.get(key))])
        head, tail = ends
        direction = item.get("direction", "right")
        if direction not in ("right", "left", "bi"):
            raise AnnotationError(path, None, f"{where}, result {k}: direction {direction!r} is not right, left or bi")
        if direction == "left" or (direction == "bi" and starts[tail] < starts[head]):
            head, tail = tail, head
        relations.append(RelationAnnotation(f"R{len(relations) + 1}", labels[0], head, tail))
    return relations


def read_documents(path: str | Path) -> list[Document]:
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, None, "Label Studio export file not found")
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise AnnotationError(path, None, f"not valid UTF-8 (byte {err.start})") from None
    except json.JSONDecodeError as err:
        raise AnnotationError(path, err.lineno, f"invalid JSON ({err.msg}); is the file complete?") from None
    if isinstance(tasks, dict):  # one task exported on its own
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise AnnotationError(path, None, "a Label Studio export is a JSON list of tasks")
    counts = {"unannotated": 0, "several": 0, "other results": 0}
    docs = [doc for i, task in enumerate(tasks) if (doc := _task_document(task, i, path, counts)) is not None]
    if counts["unannotated"]:
        log.warning(
            "%s: %d of %d tasks have no annotation (none, or cancelled) and are skipped",
            path,
            counts["unannotated"],
            len(tasks),
        )
    if counts["several"]:
        log.warning("%s: %d tasks have several annotations; the first of each is read", path, counts["several"])
    if counts["other results"]:
        log.info("%s: %d results that are neither spans nor relations skipped", path, counts["other results"])
    if not docs:
        raise AnnotationError(path, None, f"none of the {len(tasks)} tasks has an annotation")
    return docs


def _results(doc: Document) -> list[dict]:
    results = []
    for ent in doc.entities:
        item = {
            "id": ent.id,
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "labels",
            "value": {"start": ent.start, "end": ent.end, "text": ent.text, "labels": [ent.label]},
        }
        if ent.score is not None:
            item["score"] = ent.score
        results.append(item)
    for rel in doc.relations:
        item = {"from_id": rel.head, "to_id": rel.tail, "type": "relation", "direction": "right", "labels": [rel.label]}
        if rel.score is not None:
            item["score"] = rel.score
        results.append(item)
    return results


def task(doc: Document, index: int, model_version: str | None = None) -> dict:
    """One importable task: a prediction (any score set) goes under ``predictions``, gold under ``annotations``."""
    scores = [a.score for a in [*doc.entities, *doc.relations] if a.score is not None]
    entry = {"id": index, "data": {TEXT_KEY: doc.text, "doc_id": doc.id}}
    if scores or model_version is not None:
        prediction = {"model_version": model_version or "ie", "result": _results(doc)}
        if scores:
            prediction["score"] = min(scores)
        entry["predictions"] = [prediction]
    else:
        entry["annotations"] = [{"result": _results(doc)}]
    return entry


def write_documents(
    docs: Sequence[Document], path: str | Path, segmenter: str | None = None, model_version: str | None = None
) -> None:
    tasks = [task(doc, i, model_version) for i, doc in enumerate(docs, start=1)]
    atomic.write_text(path, json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")


def labeling_config(schema) -> str:
    """A Label Studio labeling config for ``schema``: the span labels and relation labels this module's
    tasks refer to (``from_name="label"``, ``toName="text"``, ``$text``)."""
    labels = "\n".join(f"    <Label value={quoteattr(label)}/>" for label in schema.entity_labels)
    relations = "\n".join(f"    <Relation value={quoteattr(label)}/>" for label in schema.relation_labels)
    return (
        f"<View>\n  <Relations>\n{relations}\n  </Relations>\n"
        f'  <Labels name="{FROM_NAME}" toName="{TO_NAME}">\n{labels}\n  </Labels>\n'
        f'  <Text name="{TO_NAME}" value="${TEXT_KEY}"/>\n</View>\n'
    )
