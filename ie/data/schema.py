"""The annotation schema: entity labels and relation signatures, read from one JSON file.

Code never hard-codes labels; it asks the schema. Every checkpoint stores the schema it was trained
with so that a model can be checked against the data and against its partner model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ie.data.bio import OUTSIDE, tag_set
from ie.errors import IEError

NO_RELATION = "no_relation"


class SchemaError(IEError, ValueError):
    """The schema file itself is missing or malformed."""


@dataclass(frozen=True)
class EntityType:
    label: str
    description: str = ""


@dataclass(frozen=True)
class RelationType:
    label: str
    heads: tuple[str, ...]
    tails: tuple[str, ...]
    symmetric: bool = False
    description: str = ""

    def fits(self, head_label: str, tail_label: str) -> bool:
        return head_label in self.heads and tail_label in self.tails


@dataclass(frozen=True)
class Schema:
    name: str
    entities: tuple[EntityType, ...]
    relations: tuple[RelationType, ...]
    version: int = 1
    _by_label: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_by_label", {r.label: r for r in self.relations})

    # --- labels -----------------------------------------------------------------------------
    @property
    def entity_labels(self) -> list[str]:
        return [e.label for e in self.entities]

    @property
    def relation_labels(self) -> list[str]:
        """Relation classes as the RE model sees them: ``no_relation`` first."""
        return [NO_RELATION] + [r.label for r in self.relations]

    @property
    def bio_tags(self) -> list[str]:
        return tag_set(self.entity_labels)

    @property
    def span_labels(self) -> list[str]:
        """Entity classes as a span NER model sees them: ``O`` (no entity) first."""
        return [OUTSIDE, *self.entity_labels]

    def relation(self, label: str) -> RelationType:
        return self._by_label[label]

    # --- candidate pairs --------------------------------------------------------------------
    def allowed_relations(self, head_label: str, tail_label: str) -> list[str]:
        return [r.label for r in self.relations if r.fits(head_label, tail_label)]

    def admitted_relations(self, head_label: str, tail_label: str, head_first: bool) -> list[str]:
        """The relations an ordered pair can carry: those whose signature fits its types, a symmetric
        one only with the head earlier in the text, which is also how such relations are annotated."""
        return [r.label for r in self.relations if r.fits(head_label, tail_label) and (not r.symmetric or head_first)]

    def pair_classes(self, head: tuple, tail: tuple) -> set[str]:
        """The RE classes an ordered pair of word spans ``(start, end, label, ...)`` may be given:
        ``no_relation`` and its :meth:`admitted_relations`. The Predictor decodes over them and
        ``trainer.re.loss_classes=schema`` trains over them."""
        return {NO_RELATION, *self.admitted_relations(head[2], tail[2], head[0] < tail[0])}

    def is_candidate(self, head_label: str, head_start: int, tail_label: str, tail_start: int) -> bool:
        """Whether an ordered pair could carry a relation (:meth:`admitted_relations`)."""
        return bool(self.admitted_relations(head_label, tail_label, head_start < tail_start))

    # --- io -----------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict, source: str = "<schema>") -> Schema:
        def need(obj, key, where):
            if key not in obj:
                raise SchemaError(f"{source}: {where} is missing '{key}'")
            return obj[key]

        unknown = set(data) - {"name", "version", "entities", "relations"}
        if unknown:
            raise SchemaError(f"{source}: unknown top-level field(s) {sorted(unknown)}")
        entities = []
        for i, ent in enumerate(need(data, "entities", "schema")):
            entities.append(
                EntityType(label=need(ent, "label", f"entities[{i}]"), description=ent.get("description", ""))
            )
        labels = [e.label for e in entities]
        if len(set(labels)) != len(labels):
            raise SchemaError(f"{source}: duplicate entity label in {labels}")
        relations = []
        for i, rel in enumerate(need(data, "relations", "schema")):
            where = f"relations[{i}]"
            heads = tuple(need(rel, "heads", where))
            tails = tuple(need(rel, "tails", where))
            for lab in heads + tails:
                if lab not in labels:
                    raise SchemaError(f"{source}: {where} ('{rel.get('label')}') names unknown entity label '{lab}'")
            label = need(rel, "label", where)
            if label == NO_RELATION:
                raise SchemaError(f"{source}: {where}: '{NO_RELATION}' is reserved")
            relations.append(
                RelationType(label, heads, tails, bool(rel.get("symmetric", False)), rel.get("description", ""))
            )
        rel_labels = [r.label for r in relations]
        if len(set(rel_labels)) != len(rel_labels):
            raise SchemaError(f"{source}: duplicate relation label in {rel_labels}")
        return cls(
            name=data.get("name", "schema"),
            entities=tuple(entities),
            relations=tuple(relations),
            version=int(data.get("version", 1)),
        )

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SchemaError(f"{path}: schema file not found") from None
        except json.JSONDecodeError as err:
            raise SchemaError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None
        return cls.from_dict(data, source=str(path))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "entities": [asdict(e) for e in self.entities],
            "relations": [
                {
                    "label": r.label,
                    "heads": list(r.heads),
                    "tails": list(r.tails),
                    "symmetric": r.symmetric,
                    "description": r.description,
                }
                for r in self.relations
            ],
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def differences(self, other: Schema) -> list[str]:
        """Human-readable differences that matter for models (labels and signatures)."""
        diffs = []
        if self.entity_labels != other.entity_labels:
            diffs.append(f"entity labels {self.entity_labels} != {other.entity_labels}")
        mine = {r.label: (r.heads, r.tails, r.symmetric) for r in self.relations}
        theirs = {r.label: (r.heads, r.tails, r.symmetric) for r in other.relations}
        if list(mine) != list(theirs):
            diffs.append(f"relation labels {list(mine)} != {list(theirs)}")
        for label in mine.keys() & theirs.keys():
            if mine[label] != theirs[label]:
                diffs.append(f"relation '{label}' signature {mine[label]} != {theirs[label]}")
        return diffs

    def to_brat_conf(self) -> str:
        """brat's annotation.conf for this schema (symmetry is a project convention, see docs/annotation.md)."""
        lines = [
            "# Generated from the project schema by `python -m ie.schema`; do not edit by hand.",
            "",
            "[entities]",
            *self.entity_labels,
            "",
            "[relations]",
        ]
        for r in self.relations:
            lines.append(f"{r.label}\tArg1:{'|'.join(r.heads)}, Arg2:{'|'.join(r.tails)}")
        lines += ["", "[events]", "", "[attributes]", ""]
        return "\n".join(lines)
