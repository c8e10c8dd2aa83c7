"""The data a run trains and is scored on, per split, and what its encoder windows cannot hold.

Long sentences are read in overlapping windows, so in the normal case nothing is lost. A config can
still make loss unavoidable: a word longer than one NER window keeps only its first subwords, an
entity longer than one window is never seen whole, and an RE candidate pair whose mentions lie
further apart than ``trainer.re.max_length`` cannot be encoded at all. This module counts each of
those per split; training logs the counts and writes them to ``RUN/data_report.json``.
"""

from __future__ import annotations

from collections import Counter

from ie.align import WordPieces, window_budget
from ie.dataset import IEData
from ie.markers import reachable_pairs


def split_counts(data: IEData, split: str) -> dict:
    """Documents, sentences, words, and entities and relations per label, of one split."""
    ds = data.ner[split]
    ent_names = ds.features["entities"].feature["label"].names
    rel_names = ds.features["relations"].feature["label"].names
    entities = Counter(ent_names[e["label"]] for row in ds["entities"] for e in row)
    relations = Counter(rel_names[r["label"]] for row in ds["relations"] for r in row)
    return {"documents": len(data.splits[split]), "sentences": len(ds), "words": sum(len(w) for w in ds["words"]),
            "entities": {label: entities[label] for label in data.schema.entity_labels},
            "relations": {label: relations[label] for label in data.schema.relation_labels[1:]},
            "relation_candidates": len(data.re[split])}


def ner_loss(data: IEData, split: str, tokenizer, max_length: int) -> dict:
    """Words cut (later subwords dropped) and entities longer than one NER window."""
    budget = window_budget(tokenizer, max_length)
    words_cut = entities_split = 0
    ds = data.ner[split]
    for words, entities in zip(ds["words"], ds["entities"]):
        lengths = [len(p) for p in WordPieces(tokenizer, words).pieces]
        words_cut += sum(n > budget for n in lengths)
        entities_split += sum(sum(lengths[e["start"]:e["end"]]) > budget for e in entities)
    return {"words_cut": words_cut, "entities_split": entities_split}


def re_loss(data: IEData, split: str, tokenizer, max_length: int) -> dict:
    """RE candidate pairs, and gold relations among them, that do not fit one RE window."""
    ds = data.ner[split]
    names = ds.features["entities"].feature["label"].names
    candidates = relations = 0
    for words, entities, gold in zip(ds["words"], ds["entities"], ds["relations"]):
        spans = [(e["start"], e["end"], names[e["label"]]) for e in entities]
        sentence = reachable_pairs(tokenizer, words, spans, data.schema, max_length)
        if sentence is None:
            continue
        candidates += sentence.lost
        in_reach = {(sentence.order[h], sentence.order[t]) for h, t in sentence.pairs}
        relations += sum((r["head"], r["tail"]) not in in_reach for r in gold)
    return {"candidates": candidates, "relations": relations}


def data_report(data: IEData, tokenizer, tasks, ner_max_length: int, re_max_length: int,
                warnings=()) -> dict:
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
    parts = [f"{split}: {entry['documents']} documents, {entry['sentences']} sentences, {entry['words']} words, "
             f"{sum(entry['entities'].values())} entities, {sum(entry['relations'].values())} relations"]
    lost = entry["lost"]
    if "ner" in lost:
        parts.append(f"lost to the NER window: {lost['ner']['words_cut']} word(s) cut, "
                     f"{lost['ner']['entities_split']} entit(y/ies) longer than a window")
    if "re" in lost:
        parts.append(f"lost to the RE window: {lost['re']['candidates']} candidate pair(s), "
                     f"{lost['re']['relations']} gold relation(s)")
    return "; ".join(parts)
