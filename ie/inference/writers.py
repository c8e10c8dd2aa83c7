"""Output formats of batch prediction, by name (``format=``): JSONL, or brat files to correct.

A writer first checks, before anything is predicted, that it can write every document without
replacing what must not be replaced; then it takes one prediction at a time, and on ``close`` it
makes the output appear complete or not at all. A new format is one class with ``check``, ``open``
(given the predictor, for what the output records of the model), ``write`` and ``close``, and one
entry in :data:`WRITERS`.

``jsonl``: one line per document, ``{"id", "text", "entities", "relations"}``; a relation's ``head``
and ``tail`` are indices into ``entities``. ``brat``: ``<id>.txt`` (a byte-exact copy of the text) and
``<id>.ann`` with the predictions, each score as an ``AnnotatorNotes`` line (brat shows it; the
project's reader skips it), plus the model's ``schema.json`` and ``annotation.conf`` unless the folder
has them, so the folder opens in brat and ``python -m ie.validate`` checks it. Existing ``.ann`` files
are never replaced unless ``overwrite=true``: a folder of human annotations must not be clobbered by
mistake.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TextIO

from ie import atomic
from ie.data.brat import format_ann
from ie.inference.inputs import InputDocument, InputError, read_text_file
from ie.inference.results import Prediction


def prediction_record(doc_id: str, prediction: Prediction) -> dict:
    """One JSONL line: entities with character offsets and scores; relations point at entities by
    their index in ``entities``."""
    index = {id(e): i for i, e in enumerate(prediction.entities)}
    return {"id": doc_id, "text": prediction.text,
            "entities": [e.to_dict() for e in prediction.entities],
            "relations": [{"label": r.label, "head": index[id(r.head)], "tail": index[id(r.tail)], "score": r.score}
                          for r in prediction.relations]}


class JsonlWriter:
    """JSON lines to stdout (``output=-``) or to a file written beside its target and renamed into
    place when complete: a failed run leaves no half file under the output's name."""

    def __init__(self, output: str, overwrite: bool = False, stdout: TextIO | None = None):
        self.output, self.stdout = output, stdout or sys.stdout
        self.sink: TextIO | None = None

    def check(self, docs: Sequence[InputDocument]) -> None:
        pass

    def open(self, predictor) -> None:
        if self.output == "-":
            self.sink = self.stdout
        else:
            Path(self.output).parent.mkdir(parents=True, exist_ok=True)
            self.sink = open(f"{self.output}.partial", "w", encoding="utf-8")

    def write(self, doc: InputDocument, prediction: Prediction) -> None:
        self.sink.write(json.dumps(prediction_record(doc.id, prediction), ensure_ascii=False) + "\n")

    def close(self, complete: bool) -> None:
        if self.sink is None:
            return
        if self.sink is self.stdout:
            self.sink.flush()
            return
        self.sink.close()
        if complete:
            Path(f"{self.output}.partial").replace(self.output)


@dataclass(frozen=True)
class _Ann:
    id: str
    label: str
    start: int = 0
    end: int = 0
    text: str = ""
    head: str = ""
    tail: str = ""


def brat_ann(prediction: Prediction) -> str:
    """The ``.ann`` content of a prediction: T and R lines, then each score as an AnnotatorNotes line."""
    ids = {id(e): f"T{i}" for i, e in enumerate(prediction.entities, start=1)}
    entities = [_Ann(ids[id(e)], e.label, e.start, e.end, e.text) for e in prediction.entities]
    relations = [_Ann(f"R{i}", r.label, head=ids[id(r.head)], tail=ids[id(r.tail)])
                 for i, r in enumerate(prediction.relations, start=1)]
    scored = [(a.id, e.score) for a, e in zip(entities, prediction.entities)]
    scored += [(a.id, r.score) for a, r in zip(relations, prediction.relations)]
    notes = "".join(f"#{n}\tAnnotatorNotes {ann_id}\tmodel score {score:.3f}\n"
                    for n, (ann_id, score) in enumerate(scored, start=1))
    return format_ann(entities, relations) + notes


def _safe_name(doc: InputDocument) -> str:
    if doc.id in (".", "..") or any(c in doc.id for c in "/\\\0") or doc.id.startswith("."):
        raise InputError(f"{doc.source}: document id '{doc.id}' cannot be a file name for format=brat")
    return doc.id


class BratWriter:
    """``<id>.txt`` and ``<id>.ann`` per document in the folder ``output`` (see the module docstring)."""

    def __init__(self, output: str, overwrite: bool = False, stdout: TextIO | None = None):
        if output == "-":
            raise InputError("format=brat writes files: give output=<folder>")
        self.folder, self.overwrite = Path(output), overwrite

    def check(self, docs: Sequence[InputDocument]) -> None:
        """Refuse, before predicting, to replace annotations or texts that are already there."""
        for doc in docs:
            name = _safe_name(doc)
            ann, txt = self.folder / f"{name}.ann", self.folder / f"{name}.txt"
            if ann.exists() and not self.overwrite:
                raise InputError(f"{ann} exists (annotations are never replaced without overwrite=true)")
            if txt.exists() and read_text_file(txt) != doc.text:
                raise InputError(f"{txt} exists with a different text than {doc.source}")

    def open(self, predictor) -> None:
        """The folder, with the predictor's schema as ``schema.json`` and ``annotation.conf``."""
        schema = predictor.schema
        self.folder.mkdir(parents=True, exist_ok=True)
        # A data folder like seeds/: brat reads annotation.conf, ie.validate and training read schema.json.
        if not (self.folder / "annotation.conf").exists():
            (self.folder / "annotation.conf").write_text(schema.to_brat_conf(), encoding="utf-8")
        if not (self.folder / "schema.json").exists():
            schema.save(self.folder / "schema.json")

    def write(self, doc: InputDocument, prediction: Prediction) -> Path:
        name = _safe_name(doc)
        with open(self.folder / f"{name}.txt", "w", encoding="utf-8", newline="") as handle:
            handle.write(doc.text)
        return atomic.write_text(self.folder / f"{name}.ann", brat_ann(prediction), newline="")

    def close(self, complete: bool) -> None:
        pass


WRITERS = {"jsonl": JsonlWriter, "brat": BratWriter}
