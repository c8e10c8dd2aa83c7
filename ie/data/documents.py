"""Annotated documents in character offsets, whatever file format they were read from.

Every reader (brat, CoNLL04, Label Studio, ...) produces these; the label map rewrites them, and
validation checks them against the schema and the text before they become sentence records
(:mod:`ie.data.records`). Every writer of :mod:`ie.data.formats` takes them, so a prediction becomes
a document with scores and is written by the same code as a conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ie.data.text import Sentence


@dataclass(frozen=True)
class EntityAnnotation:
    id: str
    label: str
    start: int
    end: int
    text: str
    line: int = 0  # where it stands in its file, for messages
    score: float | None = None  # a model's, when the document is a prediction


@dataclass(frozen=True)
class RelationAnnotation:
    id: str
    label: str
    head: str  # entity ids
    tail: str
    line: int = 0
    score: float | None = None


@dataclass
class Document:
    id: str
    text: str
    entities: list[EntityAnnotation] = field(default_factory=list)
    relations: list[RelationAnnotation] = field(default_factory=list)
    source: str = ""  # the annotation file (or file[item]), for messages
    # The words as a pre-tokenised format gives them (CoNLL BIO, a spaCy Doc): kept, never re-segmented.
    sentences: tuple[Sentence, ...] | None = None

    def entity(self, entity_id: str) -> EntityAnnotation:
        for ent in self.entities:
            if ent.id == entity_id:
                return ent
        raise KeyError(entity_id)
