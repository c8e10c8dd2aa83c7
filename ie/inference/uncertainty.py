"""Which documents to annotate first: documents ranked by how unsure the model was about them.

The ranking measure is the mean over a document's words of 1 - p(the word's decoded tag): least
confidence, the baseline query strategy of active learning for sequence labelling (Settles & Craven
2008), taken per word and averaged so that a long document does not rank first only for being long (the
concern behind Shen et al. 2017's length-normalised MNLP). It sees the entities the model nearly found
(words outside every entity that it was unsure of) as well as those it found. Beside it, each row shows the least confident word, the
lowest entity and relation scores and the counts, so an annotator can see why a document ranks where
it does. ``python -m ie.predict ... order=uncertainty`` writes the table as ``ORDER.tsv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ie.inference.results import Prediction

COLUMNS = (
    "rank",
    "id",
    "mean_word_uncertainty",
    "max_word_uncertainty",
    "lowest_entity_score",
    "lowest_relation_score",
    "words",
    "entities",
    "relations",
    "source",
)


@dataclass(frozen=True)
class DocumentUncertainty:
    id: str
    source: str
    words: int
    mean_word_uncertainty: float  # the ranking key: mean of 1 - p(decoded tag) over the words
    max_word_uncertainty: float
    lowest_entity_score: float | None  # None: no entity (no relation) predicted
    lowest_relation_score: float | None
    entities: int
    relations: int


def document_uncertainty(
    doc_id: str, prediction: Prediction, word_confidences: Sequence[float], source: str = ""
) -> DocumentUncertainty:
    uncertainties = [1.0 - p for p in word_confidences]
    return DocumentUncertainty(
        doc_id,
        source or doc_id,
        len(uncertainties),
        sum(uncertainties) / len(uncertainties) if uncertainties else 0.0,
        max(uncertainties, default=0.0),
        min((e.score for e in prediction.entities), default=None),
        min((r.score for r in prediction.relations), default=None),
        len(prediction.entities),
        len(prediction.relations),
    )


def ranked(rows: Sequence[DocumentUncertainty]) -> list[DocumentUncertainty]:
    """Most uncertain first; ties by the least confident word, then by id, so the order is reproducible."""
    return sorted(rows, key=lambda r: (-r.mean_word_uncertainty, -r.max_word_uncertainty, r.id))


def order_tsv(rows: Sequence[DocumentUncertainty]) -> str:
    def cell(value) -> str:
        if value is None:
            return ""
        return f"{value:.4f}" if isinstance(value, float) else str(value).replace("\t", " ")

    lines = ["\t".join(COLUMNS)]
    for rank, row in enumerate(ranked(rows), start=1):
        lines.append(
            "\t".join(
                cell(v)
                for v in (
                    rank,
                    row.id,
                    row.mean_word_uncertainty,
                    row.max_word_uncertainty,
                    row.lowest_entity_score,
                    row.lowest_relation_score,
                    row.words,
                    row.entities,
                    row.relations,
                    row.source,
                )
            )
        )
    return "\n".join(lines) + "\n"
