"""Error analysis of per-sentence predictions: what went wrong, per type, with the sentence.

Entities: every gold entity is matched to a prediction with the same span, else to the prediction
that overlaps it most; what is left is missed (gold) or spurious (predicted). That gives a confusion
matrix of types over exact spans, one over boundary errors, and a kind for every error: wrong type,
wrong boundary, wrong boundary and type, missed, spurious. Relations: a confusion matrix of labels
over argument span pairs, with reversed directions counted apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from ie.data.schema import Schema
from ie.evaluation.metrics import relation_tuple

NONE = "(none)"


def _overlap(a: Sequence[int], b: Sequence[int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _matrix(labels: list[str]) -> dict[str, dict[str, int]]:
    axis = labels + [NONE]
    return {g: dict.fromkeys(axis, 0) for g in axis}


def _span(words: Sequence[str], ent: Sequence) -> dict:
    return {"span": [ent[0], ent[1]], "text": " ".join(words[ent[0] : ent[1]]), "label": ent[2]}


def _entity_kind(ent: tuple, others: list[tuple]) -> tuple[str, list[tuple]]:
    same_span = [o for o in others if o[:2] == ent[:2]]
    if same_span:
        return "wrong type", same_span
    touching = [o for o in others if _overlap(o, ent)]
    if not touching:
        return "", []
    if any(o[2] == ent[2] for o in touching):
        return "wrong boundary", touching
    return "wrong boundary and type", touching


def entity_errors(rows: Sequence[dict], labels: list[str]) -> dict:
    exact, boundary = _matrix(labels), _matrix(labels)
    false_pos: dict[str, list] = {label: [] for label in labels}
    false_neg: dict[str, list] = {label: [] for label in labels}
    for row in rows:
        words = row["words"]
        gold = [tuple(e[:3]) for e in row["gold_entities"]]
        pred = [tuple(e[:3]) for e in row["pred_entities"]]
        used: set[tuple] = set()
        for g in gold:
            same = [p for p in pred if p[:2] == g[:2]]
            if same:
                exact[g[2]][same[0][2]] += 1
                used.add(same[0])
                continue
            free = [p for p in pred if p not in used and _overlap(p, g)]
            if free:
                best = max(free, key=lambda p: (_overlap(p, g), -p[0]))
                boundary[g[2]][best[2]] += 1
                used.add(best)
            else:
                exact[g[2]][NONE] += 1
        for p in pred:
            if p not in used:
                exact[NONE][p[2]] += 1
        where = {"doc_id": row["doc_id"], "sent_index": row["sent_index"], "sentence": " ".join(words)}
        for ent in set(gold) - set(pred):
            kind, near = _entity_kind(ent, pred)
            false_neg[ent[2]].append(
                {**where, **_span(words, ent), "kind": kind or "missed", "predicted": [_span(words, o) for o in near]}
            )
        for ent in set(pred) - set(gold):
            kind, near = _entity_kind(ent, gold)
            false_pos[ent[2]].append(
                {**where, **_span(words, ent), "kind": kind or "spurious", "gold": [_span(words, o) for o in near]}
            )
    for table in (false_pos, false_neg):
        for items in table.values():
            items.sort(key=lambda x: (x["doc_id"], x["sent_index"], x["span"]))
    return {
        "confusion": {"exact_span": exact, "boundary": boundary},
        "false_positives": false_pos,
        "false_negatives": false_neg,
    }


def _pairs(schema: Schema, entities: Sequence[Sequence], relations: Sequence[Sequence]) -> dict[tuple, str]:
    """Argument span pair -> label, ordered as the scorer orders it (earlier span first for symmetric
    labels)."""
    out = {}
    for h, t, label, *_ in relations:
        _, hs, he, ts, te, _ = relation_tuple(
            None, tuple(entities[h][:3]), tuple(entities[t][:3]), label, schema.relation(label).symmetric, "boundaries"
        )
        out[((hs, he), (ts, te))] = label
    return out


def relation_errors(schema: Schema, rows: Sequence[dict], setting: str) -> dict:
    """Confusion of relation labels over argument span pairs (entity types ignored), and every false
    positive / negative of the strict score with its sentence."""
    labels = schema.relation_labels[1:]
    ents_key, rels_key = (
        ("gold_entities", "gold_entity_relations")
        if setting == "gold_entities"
        else ("pred_entities", "pred_relations")
    )
    matrix, reversed_ = _matrix(labels), dict.fromkeys(labels, 0)
    false_pos: dict[str, list] = {label: [] for label in labels}
    false_neg: dict[str, list] = {label: [] for label in labels}
    for row in rows:
        words, gold_ents, pred_ents = row["words"], row["gold_entities"], row[ents_key]
        gold, pred = _pairs(schema, gold_ents, row["gold_relations"]), _pairs(schema, pred_ents, row[rels_key])
        for pair in gold.keys() | pred.keys():
            g, p = gold.get(pair, NONE), pred.get(pair, NONE)
            matrix[g][p] += 1
            if p != NONE and g == NONE and gold.get(pair[::-1]) == p:
                reversed_[p] += 1
        where = {"doc_id": row["doc_id"], "sent_index": row["sent_index"], "sentence": " ".join(words)}

        def describe(ents, h, t, label, where=where, words=words):  # bound now: called within this iteration
            return {**where, "label": label, "head": _span(words, ents[h]), "tail": _span(words, ents[t])}

        gold_strict = {
            (tuple(gold_ents[h][:3]), tuple(gold_ents[t][:3]), lab): (h, t) for h, t, lab in row["gold_relations"]
        }
        pred_strict = {
            (tuple(pred_ents[h][:3]), tuple(pred_ents[t][:3]), lab): (h, t) for h, t, lab, *_ in row[rels_key]
        }
        for key in gold_strict.keys() - pred_strict.keys():
            pair = (key[0][:2], key[1][:2])
            other = pred.get(pair) or pred.get(pair[::-1])
            kind = (
                "missed"
                if other is None
                else ("reversed" if pred.get(pair[::-1]) == key[2] else f"predicted as {other}")
            )
            false_neg[key[2]].append({**describe(gold_ents, *gold_strict[key], key[2]), "kind": kind})
        for key in pred_strict.keys() - gold_strict.keys():
            pair = (key[0][:2], key[1][:2])
            other = gold.get(pair) or gold.get(pair[::-1])
            kind = (
                "spurious"
                if other is None
                else "reversed"
                if gold.get(pair[::-1]) == key[2]
                else "entity type"
                if other == key[2]
                else f"gold is {other}"
            )
            false_pos[key[2]].append({**describe(pred_ents, *pred_strict[key], key[2]), "kind": kind})
    for table in (false_pos, false_neg):
        for items in table.values():
            items.sort(key=lambda x: (x["doc_id"], x["sent_index"], x["head"]["span"], x["tail"]["span"]))
    return {"confusion": matrix, "reversed": reversed_, "false_positives": false_pos, "false_negatives": false_neg}


def error_analysis(schema: Schema, rows: Sequence[dict]) -> dict:
    out: dict = {}
    if rows and "pred_entities" in rows[0]:
        out["entities"] = entity_errors(rows, schema.entity_labels)
    for setting, key in (("gold_entities", "gold_entity_relations"), ("end_to_end", "pred_relations")):
        if rows and key in rows[0]:
            out.setdefault("relations", {})[setting] = relation_errors(schema, rows, setting)
    return out


ENTITY_OUTCOMES = ("correct", "wrong boundary", "wrong type", "wrong boundary and type", "missed")
RELATION_OUTCOMES = ("correct", "argument wrong", "label or direction wrong", "missed")


def _entity_breakdown(rows: Sequence[dict], labels: list[str]) -> dict:
    table = {label: {**dict.fromkeys(ENTITY_OUTCOMES, 0), "spurious": 0} for label in labels}
    for row in rows:
        gold = {tuple(e[:3]) for e in row["gold_entities"]}
        pred = {tuple(e[:3]) for e in row["pred_entities"]}
        for ent in gold:
            table[ent[2]]["correct" if ent in pred else (_entity_kind(ent, list(pred))[0] or "missed")] += 1
        for ent in pred - gold:
            if not _entity_kind(ent, list(gold))[0]:
                table[ent[2]]["spurious"] += 1
    return table


def _relation_breakdown(schema: Schema, rows: Sequence[dict], setting: str) -> dict:
    ents_key, rels_key = (
        ("gold_entities", "gold_entity_relations")
        if setting == "gold_entities"
        else ("pred_entities", "pred_relations")
    )
    labels = schema.relation_labels[1:]
    table = {label: {**dict.fromkeys(RELATION_OUTCOMES, 0), "spurious": 0} for label in labels}

    def keyed(ents, rels):
        return {
            relation_tuple(None, tuple(ents[h][:3]), tuple(ents[t][:3]), label, schema.relation(label).symmetric)
            for h, t, label, *_ in rels
        }

    for row in rows:
        found = {tuple(e[:3]) for e in row[ents_key]}
        gold, pred = keyed(row["gold_entities"], row["gold_relations"]), keyed(row[ents_key], row[rels_key])
        pred_pairs = {frozenset([k[1:4], k[4:7]]) for k in pred}
        gold_pairs = {frozenset([k[1:4], k[4:7]]) for k in gold}
        for key in gold:
            head, tail = key[1:4], key[4:7]
            outcome = (
                "correct"
                if key in pred
                else "argument wrong"
                if head not in found or tail not in found
                else "label or direction wrong"
                if frozenset([head, tail]) in pred_pairs
                else "missed"
            )
            table[key[-1]][outcome] += 1
        for key in pred:
            if frozenset([key[1:4], key[4:7]]) not in gold_pairs:
                table[key[-1]]["spurious"] += 1
    return table


def breakdown(schema: Schema, rows: Sequence[dict]) -> dict:
    """What became of every gold entity (correct, wrong boundary, wrong type, both, missed) and every gold
    relation (correct, an argument not found exactly, the label or direction wrong, missed), per type, and
    how many predictions overlap no gold at all (spurious): the counts that say which error to fix first."""
    out: dict = {}
    if rows and "pred_entities" in rows[0]:
        out["entities"] = _entity_breakdown(rows, schema.entity_labels)
    for setting, key in (("gold_entities", "gold_entity_relations"), ("end_to_end", "pred_relations")):
        if rows and key in rows[0]:
            out.setdefault("relations", {})[setting] = _relation_breakdown(schema, rows, setting)
    return out
