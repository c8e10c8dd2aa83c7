"""Reading a corpus in another schema: source labels mapped to the target schema while reading.

``data.label_map`` names, per kind, which source label becomes which target label; ``data.schema`` is then
the *target* schema. Each document is mapped before validation, so every mapped record is checked
against the target schema, relation signatures included::

    label_map:
      entities: {Peop: PER, Org: ORG, Loc: LOC}
      relations: {Work_For: works_for, Located_In: located_in, OrgBased_In: located_in}
      source_schema: data/conll04/schema.json   # optional: the labels the source may use

Labels not in the map are dropped, and so is a relation whose head or tail entity was dropped; both
are counted per source label (:meth:`LabelMap.summary`). A map naming a target label the schema lacks,
or a source label the source does not have, is an error naming ``data.label_map.<kind>.<label>``. The
source's labels are those of ``source_schema`` when given (a data label outside it is then an error
too), otherwise those that occur in the data.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace

from ie.data.documents import Document
from ie.data.problems import Problem
from ie.data.schema import Schema
from ie.errors import ConfigError

log = logging.getLogger(__name__)

KINDS = ("entities", "relations")


class LabelMapError(ConfigError):
    """The label map does not fit the source data or the target schema."""


class LabelMap:
    """Maps the labels of documents; counts what it keeps and drops over all documents it sees."""

    def __init__(
        self,
        entities: Mapping[str, str],
        relations: Mapping[str, str],
        target: Schema,
        source: Schema | None = None,
        where: str = "data.label_map",
    ):
        self.maps = {"entities": dict(entities or {}), "relations": dict(relations or {})}
        self.where = where
        self.source = source
        targets = {"entities": set(target.entity_labels), "relations": set(target.relation_labels[1:])}
        for kind in KINDS:
            for src, dst in self.maps[kind].items():
                if dst not in targets[kind]:
                    raise LabelMapError(
                        f"{where}.{kind}.{src}: target label '{dst}' is not one of the "
                        f"{kind} of schema '{target.name}' {sorted(targets[kind])}"
                    )
        if source is not None:
            for kind, known in self._source_labels().items():
                self._check_sources(kind, known, f"of schema '{source.name}'")
        self.seen = {kind: Counter() for kind in KINDS}  # source label -> occurrences
        self.kept = {kind: Counter() for kind in KINDS}  # source label -> mapped occurrences
        self.dropped_with_argument: Counter = Counter()  # mapped relation label -> dropped with its entity

    @classmethod
    def from_config(cls, cfg, target: Schema) -> LabelMap | None:
        """The map of a ``data.label_map`` node (a dict or DictConfig), or None when it is unset."""
        if cfg is None:
            return None
        unknown = set(cfg) - {*KINDS, "source_schema"}
        if unknown:
            raise LabelMapError(
                f"data.label_map: unknown key(s) {sorted(unknown)} (known: entities, relations, source_schema)"
            )
        source_path = cfg.get("source_schema")
        source = Schema.load(source_path) if source_path else None
        return cls(cfg.get("entities") or {}, cfg.get("relations") or {}, target, source)

    def _source_labels(self) -> dict[str, set[str]]:
        return {"entities": set(self.source.entity_labels), "relations": set(self.source.relation_labels[1:])}

    def _check_sources(self, kind: str, known: set[str], what: str) -> None:
        word = "entity" if kind == "entities" else "relation"
        for src in self.maps[kind]:
            if src not in known:
                raise LabelMapError(
                    f"{self.where}.{kind}.{src}: the source has no {word} label '{src}' "
                    f"(labels {what}: {sorted(known)})"
                )

    def _target(self, kind: str, ann, path: str, known: dict | None, problems: list) -> str | None:
        """Count one source annotation, flag its label when ``known`` (the source schema's) lacks it,
        and return its target label (None: dropped)."""
        self.seen[kind][ann.label] += 1
        if known is not None and ann.label not in known[kind]:
            word = "entity" if kind == "entities" else "relation"
            problems.append(
                Problem(
                    path,
                    ann.line,
                    f"{word} label '{ann.label}' is not in the source schema "
                    f"'{self.source.name}' {sorted(known[kind])}",
                )
            )
        return self.maps[kind].get(ann.label)

    def apply(self, doc: Document) -> tuple[Document, list[Problem]]:
        """The document with mapped labels and without the unmapped annotations; problems are source
        labels outside ``source_schema`` (errors naming the file and line)."""
        problems: list[Problem] = []
        known = self._source_labels() if self.source is not None else None
        path = doc.source or doc.id
        entities, dropped_ids = [], set()
        for ent in doc.entities:
            target = self._target("entities", ent, path, known, problems)
            if target is None:
                dropped_ids.add(ent.id)
                continue
            self.kept["entities"][ent.label] += 1
            entities.append(replace(ent, label=target))
        relations = []
        for rel in doc.relations:
            target = self._target("relations", rel, path, known, problems)
            if target is None:
                continue
            if rel.head in dropped_ids or rel.tail in dropped_ids:
                self.dropped_with_argument[rel.label] += 1
                continue
            self.kept["relations"][rel.label] += 1
            relations.append(replace(rel, label=target))
        return replace(doc, entities=entities, relations=relations), problems

    def check_seen(self) -> None:
        """Without ``source_schema``: every source label of the map must occur in the data read."""
        if self.source is None:
            for kind in KINDS:
                self._check_sources(kind, set(self.seen[kind]), "in the data")

    def summary(self) -> dict:
        """Per kind: source label -> {to, kept, dropped} over everything read (all splits)."""
        out = {}
        for kind in KINDS:
            rows = {}
            for label in sorted(self.seen[kind]):
                rows[label] = {
                    "to": self.maps[kind].get(label),
                    "kept": self.kept[kind][label],
                    "dropped": self.seen[kind][label] - self.kept[kind][label],
                }
                if kind == "relations" and self.dropped_with_argument[label]:
                    rows[label]["dropped_with_argument"] = self.dropped_with_argument[label]
            out[kind] = rows
        return out

    def describe(self) -> str:
        parts = []
        for rows in self.summary().values():
            for label, row in rows.items():
                if row["to"] is None:
                    parts.append(f"{label}: {row['dropped']} dropped")
                else:
                    extra = (
                        f", {row['dropped_with_argument']} dropped with an unmapped argument"
                        if row.get("dropped_with_argument")
                        else ""
                    )
                    parts.append(f"{label} -> {row['to']}: {row['kept']}{extra}")
        return "label map: " + "; ".join(parts)
