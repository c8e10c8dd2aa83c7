"""Data augmentation for tiny corpora, on the training split only.

Mention replacement (Dai & Adel 2020, "An Analysis of Simple Data Augmentation for Named Entity
Recognition"): a copy of a training sentence in which each entity mention is swapped for another mention
of the same type, drawn from the training split itself (never from a test document). Relations keep
their arguments, which keep their types, so every copy is still valid under the schema. The copies are
whole sentences of a pseudo-document ``<doc>~mr<k>`` whose text is the words joined by single spaces.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from ie.data.records import SentenceRecord

SUFFIX = "~mr"


def mention_inventory(records: Sequence[SentenceRecord]) -> dict[str, list[tuple[str, ...]]]:
    """Every mention (as words) of each entity type, in reading order, repeats kept (frequent names are
    drawn more often, as they occur)."""
    inventory: dict[str, list[tuple[str, ...]]] = {}
    for record in records:
        for start, end, label in record.entities:
            inventory.setdefault(label, []).append(tuple(record.words[start:end]))
    return inventory


def replace_mentions(
    record: SentenceRecord, inventory: Mapping[str, Sequence[tuple[str, ...]]], rng: random.Random, doc_id: str
) -> SentenceRecord:
    """``record`` with every mention swapped for one drawn from ``inventory``; entity order is kept."""
    words: list[str] = []
    entities: list = [None] * len(record.entities)
    cursor = 0
    for k in sorted(range(len(record.entities)), key=lambda k: record.entities[k]):  # mentions never overlap
        start, end, label = record.entities[k]
        words += record.words[cursor:start]
        mention = rng.choice(inventory[label])
        entities[k] = (len(words), len(words) + len(mention), label)
        words += mention
        cursor = end
    words += record.words[cursor:]
    starts, position = [], 0
    for word in words:
        starts.append(position)
        position += len(word) + 1
    return SentenceRecord(
        doc_id,
        record.sent_index,
        0,
        max(position - 1, 0),
        words,
        starts,
        [s + len(w) for s, w in zip(starts, words)],
        entities,
        list(record.relations),
    )


def mention_replacement(
    records: Mapping[str, list[SentenceRecord]], train_ids: Sequence[str], copies: int, seed: int
) -> dict[str, list[SentenceRecord]]:
    """``copies`` pseudo-documents per training document, each sentence with an entity rewritten by
    :func:`replace_mentions`; the mentions come from the training documents alone."""
    train = [r for doc_id in train_ids for r in records[doc_id]]
    inventory = mention_inventory(train)
    rng = random.Random(seed)
    out: dict[str, list[SentenceRecord]] = {}
    for k in range(1, copies + 1):
        for doc_id in train_ids:
            new_id = f"{doc_id}{SUFFIX}{k}"
            out[new_id] = [replace_mentions(r, inventory, rng, new_id) for r in records[doc_id] if r.entities]
    return out
