"""What the encoder windows cannot hold, counted per split before anything trains.

Long sentences are read in overlapping windows, so in the normal case nothing is lost. A config can
still make loss unavoidable: a word longer than one NER window keeps only its first subwords, an
entity longer than one window is never seen whole, and an RE candidate pair whose mentions lie
further apart than ``trainer.re.max_length`` cannot be encoded at all.
"""

from __future__ import annotations

from ie.data.dataset import IEData
from ie.encoding.align import WordPieces, window_budget
from ie.encoding.markers import reachable_pairs


def ner_loss(data: IEData, split: str, tokenizer, max_length: int) -> dict:
    """Words cut (later subwords dropped) and entities longer than one NER window."""
    budget = window_budget(tokenizer, max_length)
    words_cut = entities_split = 0
    ds = data.ner[split]
    for words, entities in zip(ds["words"], ds["entities"]):
        lengths = [len(p) for p in WordPieces(tokenizer, words).pieces]
        words_cut += sum(n > budget for n in lengths)
        entities_split += sum(sum(lengths[e["start"] : e["end"]]) > budget for e in entities)
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
