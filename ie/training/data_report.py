"""``RUN/data_report.json``: the data a run trains and is scored on, per split, with what its encoder
windows cannot hold (:mod:`ie.encoding.coverage`), the data's fingerprint and the validation warnings.
Training logs it and writes it before any model trains.
"""

from __future__ import annotations

from collections import Counter

from ie.data.dataset import IEData
from ie.encoding.coverage import ner_loss, re_loss


def split_counts(data: IEData, split: str) -> dict:
    """Documents, sentences, words, and entities and relations per label, of one split."""
    ds = data.ner[split]
    ent_names = ds.features["entities"].feature["label"].names
    rel_names = ds.features["relations"].feature["label"].names
    entities = Counter(ent_names[e["label"]] for row in ds["entities"] for e in row)
    relations = Counter(rel_names[r["label"]] for row in ds["relations"] for r in row)
    return {
        "documents": len(data.splits[split]),
        "sentences": len(ds),
        "words": sum(len(w) for w in ds["words"]),
        "entities": {label: entities[label] for label in data.schema.entity_labels},
        "relations": {label: relations[label] for label in data.schema.relation_labels[1:]},
        "relation_candidates": len(data.re[split]),
    }


def data_report(data: IEData, tokenizer, tasks, ner_max_length: int, re_max_length: int, warnings=()) -> dict:
    """Counts and losses per split, with the data's fingerprint and validation warnings."""
    splits = {}
    for split in data.splits:
        entry = split_counts(data, split)
        lost = {}
        if "ner" in tasks:
            lost["ner"] = ner_loss(data, split, tokenizer, ner_max_length)
        if "re" in tasks:
            lost["re"] = re_loss(data, split, tokenizer, re_max_length)
        entry["lost"] = lost
        splits[split] = entry
    return {"fingerprint": data.fingerprint, "splits": splits, "warnings": [str(w) for w in warnings]}


def total_lost(report: dict) -> int:
    return sum(n for entry in report["splits"].values() for task in entry["lost"].values() for n in task.values())


def format_loss(split: str, entry: dict) -> str:
    parts = [
        f"{split}: {entry['documents']} documents, {entry['sentences']} sentences, {entry['words']} words, "
        f"{sum(entry['entities'].values())} entities, {sum(entry['relations'].values())} relations"
    ]
    lost = entry["lost"]
    if "ner" in lost:
        parts.append(
            f"lost to the NER window: {lost['ner']['words_cut']} word(s) cut, "
            f"{lost['ner']['entities_split']} entit(y/ies) longer than a window"
        )
    if "re" in lost:
        parts.append(
            f"lost to the RE window: {lost['re']['candidates']} candidate pair(s), "
            f"{lost['re']['relations']} gold relation(s)"
        )
    return "; ".join(parts)
