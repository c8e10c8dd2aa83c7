"""Annotated documents in character offsets, whatever file format they were read from.

Every reader (brat, CoNLL04, ...) produces these; the label map rewrites them, and validation checks
them against the schema and the text before they become sentence records (:mod:`ie.data.records`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EntityAnnotation:
    id: str
    label: str
    start: int
    end: int
    text: str
    line: int = 0  # where it stands in its file, for messages


@dataclass(frozen=True)
class RelationAnnotation:
    id: str
    label: str
    head: str  # entity ids
    tail: str
    line: int = 0


@dataclass
class Document:
    id: str
    text: str
    entities: list[EntityAnnotation] = field(default_factory=list)
    relations: list[RelationAnnotation] = field(default_factory=list)
    source: str = ""  # the annotation file (or file[item]), for messages

    def entity(self, entity_id: str) -> EntityAnnotation:
        for ent in self.entities:
            if ent.id == entity_id:
                return ent
        raise KeyError(entity_id)
