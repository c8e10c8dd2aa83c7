"""Sentence records -> Hugging Face ``DatasetDict``s for NER (sentences) and RE (candidate pairs).

Both carry document ids and character offsets; splits are by document (:mod:`ie.data.folds`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

from ie.data.folds import resolve_splits
from ie.data.records import SentenceRecord, fingerprint
from ie.data.schema import NO_RELATION, Schema

# --- features ----------------------------------------------------------------------------------


def sentence_features(schema: Schema) -> Features:
    return Features(
        {
            "doc_id": Value("string"),
            "sent_index": Value("int32"),
            "start": Value("int32"),
            "end": Value("int32"),
            "words": List(Value("string")),
            "word_starts": List(Value("int32")),
            "word_ends": List(Value("int32")),
            "ner_tags": List(ClassLabel(names=schema.bio_tags)),
            "entities": List(
                {"start": Value("int32"), "end": Value("int32"), "label": ClassLabel(names=schema.entity_labels)}
            ),
            "relations": List(
                {"head": Value("int32"), "tail": Value("int32"), "label": ClassLabel(names=schema.relation_labels)}
            ),
        }
    )


def relation_features(schema: Schema) -> Features:
    span = {"start": Value("int32"), "end": Value("int32"), "label": ClassLabel(names=schema.entity_labels)}
    return Features(
        {
            "doc_id": Value("string"),
            "sent_index": Value("int32"),
            "words": List(Value("string")),
            "head": span,
            "tail": span,
            "label": ClassLabel(names=schema.relation_labels),
        }
    )


def candidate_pairs(entities: Sequence[tuple[int, int, str]], schema: Schema) -> list[tuple[int, int]]:
    """Ordered entity index pairs of one sentence whose types fit some relation signature."""
    return [
        (h, t)
        for h, (hs, _, hl) in enumerate(entities)
        for t, (ts, _, tl) in enumerate(entities)
        if h != t and schema.is_candidate(hl, hs, tl, ts)
    ]


def relation_rows(record: SentenceRecord, schema: Schema) -> list[dict]:
    gold = {(h, t): label for h, t, label in record.relations}
    rows = []
    for h, t in candidate_pairs(record.entities, schema):
        (hs, he, hl), (ts, te, tl) = record.entities[h], record.entities[t]
        rows.append(
            {
                "doc_id": record.doc_id,
                "sent_index": record.sent_index,
                "words": record.words,
                "head": {"start": hs, "end": he, "label": hl},
                "tail": {"start": ts, "end": te, "label": tl},
                "label": gold.get((h, t), NO_RELATION),
            }
        )
    return rows


def sentence_row(record: SentenceRecord) -> dict:
    return {
        "doc_id": record.doc_id,
        "sent_index": record.sent_index,
        "start": record.start,
        "end": record.end,
        "words": record.words,
        "word_starts": record.word_starts,
        "word_ends": record.word_ends,
        "ner_tags": record.bio_tags(),
        "entities": [{"start": s, "end": e, "label": lab} for s, e, lab in record.entities],
        "relations": [{"head": h, "tail": t, "label": lab} for h, t, lab in record.relations],
    }


@dataclass
class IEData:
    """The two views of one corpus: sentences with BIO tags (NER) and candidate pairs (RE)."""

    schema: Schema
    ner: DatasetDict
    re: DatasetDict
    splits: dict[str, list[str]]
    fingerprint: str


def build_datasets(
    records: Mapping[str, list[SentenceRecord]],
    schema: Schema,
    splits: Mapping[str, Sequence[str] | None],
    data_fingerprint: str | None = None,
) -> IEData:
    """``data_fingerprint``: what the data is known as, when ``records`` hold more than it (training's
    augmented copies); by default the fingerprint of ``records`` themselves."""
    resolved = resolve_splits(list(records), splits)
    ner, rel = {}, {}
    for name, doc_ids in resolved.items():
        sents = [r for d in doc_ids for r in records[d]]
        ner[name] = _typed_dataset([sentence_row(r) for r in sents], sentence_features(schema))
        rel[name] = _typed_dataset([row for r in sents for row in relation_rows(r, schema)], relation_features(schema))
    return IEData(
        schema, DatasetDict(ner), DatasetDict(rel), resolved, data_fingerprint or fingerprint(records, schema)
    )


def _typed_dataset(rows: list[dict], features: Features) -> Dataset:
    # Column-wise so that an empty split still carries its features (from_list([]) loses them).
    return Dataset.from_dict({key: [row[key] for row in rows] for key in features}, features=features)
