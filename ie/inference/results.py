"""What the Predictor returns: entities with character offsets into the caller's text, relations
between them, and the two for one text. Frozen, serialisable, and free of torch, so a client can
import them without the model stack."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Entity:
    label: str
    start: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Relation:
    label: str
    head: Entity
    tail: Entity
    score: float

    def to_dict(self) -> dict:
        return {"label": self.label, "head": self.head.to_dict(), "tail": self.tail.to_dict(), "score": self.score}


@dataclass(frozen=True)
class Prediction:
    text: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "entities": [e.to_dict() for e in self.entities],
            "relations": [r.to_dict() for r in self.relations],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
