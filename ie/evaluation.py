"""Scoring a trained run on a data split, exactly as it is reported at the end of training.

NER: seqeval entity-level P/R/F1 in strict IOB2 mode over words, on the entities the Predictor
returns. RE: a relation counts only if both argument spans, both entity types, the label and the
direction match; scored with gold entities and end to end on the NER model's own entities.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import OmegaConf

from ie.checkpoint import CheckpointError
from ie.dataset import load_records, resolve_splits
from ie.metrics import ner_scores, relation_scores, relation_tuple, spans_to_bio
from ie.predictor import Predictor
from ie.schema import Schema

log = logging.getLogger(__name__)


def resolve_run(run: str | Path, models_dir: str | Path) -> Path:
    """A run folder; ``latest`` is the most recently finished run (one with ``metrics.json``)."""
    if str(run) == "latest":
        runs = sorted(Path(models_dir).glob("**/metrics.json"), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise FileNotFoundError(f"run=latest: no finished run (metrics.json) under {models_dir}")
        return runs[-1].parent
    path = Path(run)
    if not (path / "config.yaml").exists():
        raise FileNotFoundError(f"run={run}: not a run folder (no config.yaml)")
    return path


def _relation_set(schema: Schema, records, entities, relations) -> set:
    result = set()
    for r, ents, rels in zip(records, entities, relations):
        key = (r.doc_id, r.sent_index)
        for h, t, label, *_ in rels:
            result.add(relation_tuple(key, tuple(ents[h][:3]), tuple(ents[t][:3]), label,
                                      schema.relation(label).symmetric))
    return result


def evaluate_run(run_dir: str | Path, split: str = "test", batch_size: int = 32, precision: str = "fp32",
                 device: str = "cpu") -> dict:
    run_dir = Path(run_dir)
    cfg = OmegaConf.load(run_dir / "config.yaml")
    schema = Schema.load(cfg.data.schema)
    records = load_records(cfg.data.format, cfg.data.path, schema)
    splits = resolve_splits(list(records), OmegaConf.to_container(cfg.data.splits))
    if split not in splits:
        raise ValueError(f"split '{split}' not in the run's data.splits {list(splits)}")
    sentences = [r for doc_id in splits[split] for r in records[doc_id]]
    has_ner, has_re = (run_dir / "ner").exists(), (run_dir / "re").exists()
    results: dict = {"run": str(run_dir), "split": split, "documents": splits[split], "sentences": len(sentences),
                     "precision": precision}
    predictor = Predictor.from_pretrained(run_dir, device=device, precision=precision)
    diffs = schema.differences(predictor.schema)
    if diffs:
        raise CheckpointError(f"{run_dir}: checkpoint schema differs from the data's {cfg.data.schema}: "
                              + "; ".join(diffs))
    words = [r.words for r in sentences]
    gold_entities = [[(s, e, lab) for s, e, lab in r.entities] for r in sentences]
    if has_ner:
        predicted = predictor.tag_words(words, batch_size)
        results["ner"] = ner_scores([r.bio_tags() for r in sentences],
                                    [spans_to_bio(len(w), [p[:3] for p in ents]) for w, ents in zip(words, predicted)],
                                    schema.entity_labels)
    if has_re:
        labels = schema.relation_labels[1:]
        gold = _relation_set(schema, sentences, gold_entities, [r.relations for r in sentences])
        with_gold = predictor.classify_pairs(words, gold_entities, batch_size)
        results["re"] = {"gold_entities": relation_scores(
            gold, _relation_set(schema, sentences, gold_entities, with_gold), labels)}
        if has_ner:
            end_to_end = predictor.classify_pairs(words, predicted, batch_size)
            results["re"]["end_to_end"] = relation_scores(
                gold, _relation_set(schema, sentences, predicted, end_to_end), labels)
        results["re"]["lost_pairs"] = predictor.lost_pairs
    return results


def write_json(results: dict, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def format_report(results: dict) -> str:
    """Plain-text tables of the scores, per type, micro and macro."""
    lines = [f"run: {results['run']}  split: {results['split']}  sentences: {results['sentences']}"]

    def table(title: str, scores: dict) -> None:
        lines.append("")
        lines.append(f"{title:<28}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
        for label, row in scores["per_type"].items():
            lines.append(f"  {label:<26}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>10}")
        m = scores["micro"]
        lines.append(f"  {'micro':<26}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['f1']:>10.4f}{m['support']:>10}")
        m = scores["macro"]
        lines.append(f"  {'macro':<26}{m['precision']:>10.4f}{m['recall']:>10.4f}{m['f1']:>10.4f}")

    if "ner" in results:
        table("NER (seqeval strict IOB2)", results["ner"])
    if "re" in results:
        table("RE, gold entities", results["re"]["gold_entities"])
        if "end_to_end" in results["re"]:
            table("RE, end to end", results["re"]["end_to_end"])
    return "\n".join(lines)
