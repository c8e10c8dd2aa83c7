"""Inter-annotator agreement between two independent annotations of the same texts, as annotation
projects report it: strict F1 of one annotator against the other (F1 is symmetric, so which one is the
reference does not matter), per type and overall.

Entities match on character offsets and label; relations on both argument spans with their labels, the
relation label and its direction (a symmetric relation in either direction). Both annotations must be of
exactly the same texts: anything else would measure a text difference, not a disagreement.
"""

from __future__ import annotations

from collections.abc import Sequence

from ie.data.documents import Document
from ie.data.problems import AnnotationError
from ie.data.schema import Schema
from ie.evaluation.metrics import count_matches, relation_tuple, scores_from_counts
from ie.evaluation.report import table


def _entity_tuples(doc: Document) -> set:
    return {(doc.id, e.start, e.end, e.label) for e in doc.entities}


def _relation_tuples(doc: Document, schema: Schema) -> set:
    spans = {e.id: (e.start, e.end, e.label) for e in doc.entities}
    return {
        relation_tuple(doc.id, spans[r.head], spans[r.tail], r.label, schema.relation(r.label).symmetric)
        for r in doc.relations
    }


def paired(first: Sequence[Document], second: Sequence[Document]) -> list[tuple[Document, Document]]:
    """The documents of ``second`` with their counterparts in ``first``; the texts must be identical."""
    by_id = {d.id: d for d in first}
    pairs = []
    for doc in second:
        if doc.id not in by_id:
            raise AnnotationError(doc.source or doc.id, None, f"document {doc.id} has no first annotation")
        if by_id[doc.id].text != doc.text:
            raise AnnotationError(
                doc.source or doc.id,
                None,
                "text differs from the first annotation's; agreement needs the same text annotated twice",
            )
        pairs.append((by_id[doc.id], doc))
    if not pairs:
        raise AnnotationError("<second annotation>", None, "no documents to compare")
    return pairs


def agreement(first: Sequence[Document], second: Sequence[Document], schema: Schema) -> dict:
    """Entity and relation agreement over the documents both annotated: ``{"documents": [...],
    "entities": scores, "relations": scores}``, scores as :func:`~ie.evaluation.metrics.scores_from_counts`
    (first annotation as reference)."""
    pairs = paired(first, second)
    ents = count_matches(
        set().union(*(_entity_tuples(a) for a, _ in pairs)), set().union(*(_entity_tuples(b) for _, b in pairs))
    )
    rels = count_matches(
        set().union(*(_relation_tuples(a, schema) for a, _ in pairs)),
        set().union(*(_relation_tuples(b, schema) for _, b in pairs)),
    )
    return {
        "documents": [a.id for a, _ in pairs],
        "entities": scores_from_counts(ents, schema.entity_labels),
        "relations": scores_from_counts(rels, schema.relation_labels[1:]),
    }


def agreement_markdown(result: dict) -> str:
    """Two tables (entities, relations): per type counts in each annotation, matches and F1."""
    tables = []
    for kind, heading in (("entities", "entity type"), ("relations", "relation type")):
        scores = result[kind]
        rows = [
            [
                label,
                s["tp"] + s["fn"],
                s["tp"] + s["fp"],
                s["tp"],
                f"{s['f1']:.3f}" if s["tp"] + s["fp"] + s["fn"] else "n/a",
            ]
            for label, s in [*scores["per_type"].items(), ("**all**", scores["micro"])]
        ]
        tables.append(table([heading, "first", "second", "both", "F1"], rows, markdown=True) + "\n")
    return "\n".join(tables)
