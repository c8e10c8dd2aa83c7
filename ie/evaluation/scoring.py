"""Scores of a run on a data split, exactly as they are reported at the end of training.

NER: seqeval entity P/R/F1 over words (never subwords), in strict IOB2 and default (conlleval) mode.
RE: ``strict`` (both spans, both entity types, label, direction) and ``boundaries`` (entity types
ignored), with gold entities and end to end on the NER model's own entities. All of it is counted
per sentence from the predictions records (:mod:`ie.evaluation.predictions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ie.data.bio import spans_to_tags
from ie.data.schema import Schema
from ie.evaluation.error_analysis import error_analysis
from ie.evaluation.metrics import (
    NER_MODES,
    RE_MODES,
    Counts,
    add_counts,
    count_matches,
    relation_tuple,
    scores_from_counts,
    tag_entities,
)
from ie.evaluation.predictions import predict_split, write_predictions
from ie.runs import RunError, predictions_path


def _relation_tuples(
    schema: Schema, key, entities: Sequence[Sequence], relations: Iterable[Sequence], mode: str
) -> set:
    return {
        relation_tuple(
            key, tuple(entities[h][:3]), tuple(entities[t][:3]), label, schema.relation(label).symmetric, mode
        )
        for h, t, label, *_ in relations
    }


def sentence_counts(schema: Schema, row: dict) -> dict[str, Counts]:
    """Per-label match counts of one sentence, for every metric the run supports, keyed by dotted
    metric name (``ner.strict``, ``re.end_to_end.boundaries``, ...)."""
    counts: dict[str, Counts] = {}
    key = (row["doc_id"], row["sent_index"])
    gold_ents = row["gold_entities"]
    if "pred_tags" in row:
        gold_tags = spans_to_tags(len(row["words"]), gold_ents)
        for mode in NER_MODES:
            counts[f"ner.{mode}"] = count_matches(tag_entities(gold_tags, mode), tag_entities(row["pred_tags"], mode))
    settings = {
        "gold_entities": (gold_ents, row.get("gold_entity_relations")),
        "end_to_end": (row.get("pred_entities"), row.get("pred_relations")),
    }
    for setting, (ents, rels) in settings.items():
        if rels is None:
            continue
        for mode in RE_MODES:
            gold = _relation_tuples(schema, key, gold_ents, row["gold_relations"], mode)
            counts[f"re.{setting}.{mode}"] = count_matches(gold, _relation_tuples(schema, key, ents, rels, mode))
    return counts


def labels_of(schema: Schema, metric: str) -> list[str]:
    return schema.entity_labels if metric.startswith("ner.") else schema.relation_labels[1:]


def total_counts(schema: Schema, rows: Sequence[dict]) -> dict[str, Counts]:
    totals: dict[str, Counts] = {}
    for row in rows:
        for metric, counts in sentence_counts(schema, row).items():
            add_counts(totals.setdefault(metric, {}), counts)
    return totals


def nest(flat: dict[str, dict]) -> dict:
    """``{"re.end_to_end.strict": x}`` -> ``{"re": {"end_to_end": {"strict": x}}}``."""
    out: dict = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def score_predictions(schema: Schema, header: dict, rows: Sequence[dict]) -> dict:
    totals = total_counts(schema, rows)
    if not totals and rows:
        raise RunError(f"{header.get('run')}: the predictions hold neither NER tags nor relations")
    results = {**header, **nest({m: scores_from_counts(c, labels_of(schema, m)) for m, c in totals.items()})}
    if "lost_pairs" in header:
        results["re"]["lost_pairs"] = results.pop("lost_pairs")
    results["errors"] = error_analysis(schema, rows)
    return results


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    batch_size: int = 32,
    precision: str = "fp32",
    device: str = "cpu",
    write: bool = True,
    decoding: str | None = None,
    backend: str = "auto",
    threads: int | None = None,
) -> dict:
    """Predict ``split`` with the run's checkpoints and score it; with ``write``, keep the per-sentence
    predictions in the run folder for comparisons and cross-validation."""
    schema, header, rows = predict_split(run_dir, split, batch_size, precision, device, decoding, backend, threads)
    if write:
        write_predictions(predictions_path(run_dir, split), header, rows)
    return score_predictions(schema, header, rows)
