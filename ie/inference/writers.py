"""Output formats of batch prediction, by name (``format=``): JSONL, brat files to correct, or the files
of an annotation tool to import as pre-annotations.

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
mistake. ``label_studio``, ``doccano``, ``spacy``, ``conll``: one file in that format
(:mod:`ie.data.formats`), written when every document is predicted; Label Studio's carries the scores
as predictions. ``spacy`` and ``conll`` hold no relations, so with a relation model they are refused
unless ``drop_relations=true``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ie import atomic
from ie.data.documents import Document, EntityAnnotation, RelationAnnotation
from ie.data.formats import FORMATS, Format
from ie.data.formats.brat import format_ann, write_schema_files
from ie.inference.inputs import InputDocument, InputError, read_text_file
from ie.inference.results import Prediction


def prediction_record(doc_id: str, prediction: Prediction) -> dict:
    """One JSONL line: entities with character offsets and scores; relations point at entities by
    their index in ``entities``."""
    index = {id(e): i for i, e in enumerate(prediction.entities)}
    return {
        "id": doc_id,
        "text": prediction.text,
        "entities": [e.to_dict() for e in prediction.entities],
        "relations": [
            {"label": r.label, "head": index[id(r.head)], "tail": index[id(r.tail)], "score": r.score}
            for r in prediction.relations
        ],
    }


class JsonlWriter:
    """JSON lines to stdout (``output=-``) or to a file written beside its target and renamed into
    place when complete: a failed run leaves no half file under the output's name."""

    def __init__(self, output: str, overwrite: bool = False, stdout: TextIO | None = None, **_):
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


def prediction_document(doc_id: str, prediction: Prediction, source: str = "") -> Document:
    """A prediction as an annotated document whose entities and relations carry the model's scores: what
    every annotation format writes (:mod:`ie.data.formats`)."""
    ids = {id(e): f"T{i}" for i, e in enumerate(prediction.entities, start=1)}
    entities = [
        EntityAnnotation(ids[id(e)], e.label, e.start, e.end, e.text, score=e.score) for e in prediction.entities
    ]
    relations = [
        RelationAnnotation(f"R{i}", r.label, ids[id(r.head)], ids[id(r.tail)], score=r.score)
        for i, r in enumerate(prediction.relations, start=1)
    ]
    return Document(doc_id, prediction.text, entities, relations, source=source or doc_id)


def brat_ann(prediction: Prediction) -> str:
    """The ``.ann`` content of a prediction: T and R lines, then each score as an AnnotatorNotes line."""
    doc = prediction_document("", prediction)
    return format_ann(doc.entities, doc.relations)


def _safe_name(doc: InputDocument) -> str:
    if doc.id in (".", "..") or any(c in doc.id for c in "/\\\0") or doc.id.startswith("."):
        raise InputError(f"{doc.source}: document id '{doc.id}' cannot be a file name for format=brat")
    return doc.id


class BratWriter:
    """``<id>.txt`` and ``<id>.ann`` per document in the folder ``output`` (see the module docstring)."""

    def __init__(self, output: str, overwrite: bool = False, stdout: TextIO | None = None, **_):
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
        self.folder.mkdir(parents=True, exist_ok=True)
        write_schema_files(self.folder, predictor.schema)

    def write(self, doc: InputDocument, prediction: Prediction) -> Path:
        name = _safe_name(doc)
        with open(self.folder / f"{name}.txt", "w", encoding="utf-8", newline="") as handle:
            handle.write(doc.text)
        return atomic.write_text(self.folder / f"{name}.ann", brat_ann(prediction), newline="")

    def close(self, complete: bool) -> None:
        pass


class FormatWriter:
    """One file of an annotation tool's format, written (atomically) once every document is predicted."""

    def __init__(
        self,
        fmt: Format,
        output: str,
        overwrite: bool = False,
        stdout: TextIO | None = None,
        drop_relations: bool = False,
        model_version: str | None = None,
    ):
        if output == "-":
            raise InputError(f"format={fmt.name} writes a file: give output=<file{fmt.suffix}>")
        self.fmt, self.output, self.overwrite = fmt, Path(output), overwrite
        self.drop_relations, self.model_version = drop_relations, model_version
        self.documents: list[Document] = []
        self.segmenter = None

    def check(self, docs: Sequence[InputDocument]) -> None:
        if self.output.exists() and not self.overwrite:
            raise InputError(f"{self.output} exists (it is never replaced without overwrite=true)")
        if self.output.is_dir():
            raise InputError(f"{self.output} is a folder; format={self.fmt.name} writes one file")

    def open(self, predictor) -> None:
        if not self.fmt.relations and getattr(predictor, "re_model", None) is not None and not self.drop_relations:
            raise InputError(
                f"format={self.fmt.name} holds entities only, and this run predicts relations too: "
                "set drop_relations=true to write the entities alone, or use format=label_studio, "
                "doccano, brat or jsonl"
            )
        self.segmenter = predictor.segmenter  # the words the model read: entities are whole words of them

    def write(self, doc: InputDocument, prediction: Prediction) -> None:
        document = prediction_document(doc.id, prediction, doc.source)
        if not self.fmt.relations:
            document.relations = []
        self.documents.append(document)

    def close(self, complete: bool) -> None:
        if complete:
            self.fmt.write(self.documents, self.output, self.segmenter, self.model_version)


def _format_writer(fmt: Format):
    def make(output: str, **options) -> FormatWriter:
        return FormatWriter(fmt, output, **options)

    return make


WRITERS = {
    "jsonl": JsonlWriter,
    "brat": BratWriter,
    **{name: _format_writer(fmt) for name, fmt in FORMATS.items() if name != "brat"},
}
