"""Scoring a trained run on a data split, exactly as it is reported at the end of training.

A run is first turned into per-sentence predictions (gold and predicted entities and relations, kept
in ``predictions_<split>.jsonl`` beside the checkpoints); every score, comparison, bootstrap and
cross-validation pool is then computed from those records, so they all agree.

NER: seqeval entity P/R/F1 over words (never subwords), in strict IOB2 and default (conlleval) mode.
RE: ``strict`` (both spans, both entity types, label, direction) and ``boundaries`` (entity types
ignored), with gold entities and end to end on the NER model's own entities.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterable, Sequence

from omegaconf import OmegaConf

from ie import atomic
from ie.checkpoint import CheckpointError
from ie.dataset import load_corpus
from ie.metrics import (NER_MODES, RE_MODES, Counts, add_counts, count_matches, relation_tuple, scores_from_counts,
                        spans_to_bio, tag_entities)
from ie.predictor import Predictor, decode_bio
from ie.schema import Schema

log = logging.getLogger(__name__)

def is_run(path: str | Path) -> bool:
    """A run folder holds its resolved ``config.yaml`` and at least one checkpoint (``ner/``, ``re/``)."""
    path = Path(path)
    return (path / "config.yaml").is_file() and ((path / "ner").is_dir() or (path / "re").is_dir())


def resolve_run(run: str | Path, models_dir: str | Path) -> Path:
    """A run folder; ``latest`` is the most recently finished run (one with ``metrics.json``)."""
    if str(run) == "latest":
        runs = sorted(Path(models_dir).glob("**/metrics.json"), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise FileNotFoundError(f"run=latest: no finished run (metrics.json) under {models_dir}")
        return runs[-1].parent
    path = Path(run)
    if not is_run(path):
        raise FileNotFoundError(f"run={run}: not a run folder (needs config.yaml and ner/ or re/)")
    return path


def predictions_path(run_dir: str | Path, split: str) -> Path:
    return Path(run_dir) / f"predictions_{split}.jsonl"


# --- predicting ------------------------------------------------------------------------------------

def predict_split(run_dir: str | Path, split: str = "test", batch_size: int = 32, precision: str = "fp32",
                  device: str = "cpu", decoding: str = "viterbi", backend: str = "auto"
                  ) -> tuple[Schema, dict, list[dict]]:
    """The run's schema, a header (split, documents, lost pairs) and one record per sentence with gold
    and predicted entities (word spans) and relations (indices into those entities)."""
    run_dir = Path(run_dir)
    cfg = OmegaConf.load(run_dir / "config.yaml")
    schema = Schema.load(cfg.data.schema)
    records, splits = load_corpus(cfg.data, schema)
    if split not in splits:
        raise ValueError(f"split '{split}' not in the run's splits {list(splits)}")
    sentences = [r for doc_id in splits[split] for r in records[doc_id]]
    predictor = Predictor.from_pretrained(run_dir, device=device, precision=precision, decoding=decoding,
                                          backend=backend)
    diffs = schema.differences(predictor.schema)
    if diffs:
        raise CheckpointError(f"{run_dir}: checkpoint schema differs from the data's {cfg.data.schema}: "
                              + "; ".join(diffs))
    words = [r.words for r in sentences]
    rows = [{"doc_id": r.doc_id, "sent_index": r.sent_index, "words": r.words,
             "gold_entities": [list(e) for e in r.entities], "gold_relations": [list(x) for x in r.relations],
             "start": r.start, "end": r.end, "word_starts": r.word_starts, "word_ends": r.word_ends}
            for r in sentences]
    header: dict = {"run": str(run_dir), "split": split, "documents": splits[split], "sentences": len(sentences),
                    "precision": precision, "decoding": decoding, "backends": predictor.backends}
    if predictor.ner_model is not None:
        tags, probs = predictor.word_tags(words, batch_size, progress=True)
        for row, t, p in zip(rows, tags, probs):
            row["pred_tags"] = t
            row["pred_entities"] = [list(e) for e in decode_bio(t, p)]
    if predictor.re_model is not None:
        lost = predictor.lost_pairs
        with_gold = predictor.classify_pairs(words, [r.entities for r in sentences], batch_size, progress=True)
        header["lost_pairs"] = {"gold_entities": predictor.lost_pairs - lost}
        for row, rels in zip(rows, with_gold):
            row["gold_entity_relations"] = [list(x) for x in rels]
        if predictor.ner_model is not None:
            lost = predictor.lost_pairs
            end_to_end = predictor.classify_pairs(words, [row["pred_entities"] for row in rows], batch_size,
                                                  progress=True)
            header["lost_pairs"]["end_to_end"] = predictor.lost_pairs - lost
            for row, rels in zip(rows, end_to_end):
                row["pred_relations"] = [list(x) for x in rels]
    return schema, header, rows


def write_predictions(path: str | Path, header: dict, rows: Sequence[dict]) -> Path:
    """JSON lines: the header first, then one sentence per line; written atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(json.dumps({"header": header}, ensure_ascii=False) + "\n")
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def read_predictions(path: str | Path) -> tuple[dict, list[dict]]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or "header" not in json.loads(lines[0]):
        raise ValueError(f"{path}: not a predictions file (first line must hold the header)")
    return json.loads(lines[0])["header"], [json.loads(line) for line in lines[1:]]


# --- scoring ---------------------------------------------------------------------------------------

def _relation_tuples(schema: Schema, key, entities: Sequence[Sequence], relations: Iterable[Sequence], mode: str
                     ) -> set:
    return {relation_tuple(key, tuple(entities[h][:3]), tuple(entities[t][:3]), label,
                           schema.relation(label).symmetric, mode)
            for h, t, label, *_ in relations}


def sentence_counts(schema: Schema, row: dict) -> dict[str, Counts]:
    """Per-label match counts of one sentence, for every metric the run supports, keyed by dotted
    metric name (``ner.strict``, ``re.end_to_end.boundaries``, ...)."""
    counts: dict[str, Counts] = {}
    key = (row["doc_id"], row["sent_index"])
    gold_ents = row["gold_entities"]
    if "pred_tags" in row:
        gold_tags = spans_to_bio(len(row["words"]), gold_ents)
        for mode in NER_MODES:
            counts[f"ner.{mode}"] = count_matches(tag_entities(gold_tags, mode), tag_entities(row["pred_tags"], mode))
    settings = {"gold_entities": (gold_ents, row.get("gold_entity_relations")),
                "end_to_end": (row.get("pred_entities"), row.get("pred_relations"))}
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
    from ie.errors import error_analysis

    totals = total_counts(schema, rows)
    if not totals and rows:
        raise ValueError(f"{header.get('run')}: the predictions hold neither NER tags nor relations")
    results = {**header, **nest({m: scores_from_counts(c, labels_of(schema, m)) for m, c in totals.items()})}
    if "lost_pairs" in header:
        results["re"]["lost_pairs"] = results.pop("lost_pairs")
    results["errors"] = error_analysis(schema, rows)
    return results


def evaluate_run(run_dir: str | Path, split: str = "test", batch_size: int = 32, precision: str = "fp32",
                 device: str = "cpu", write: bool = True, decoding: str = "viterbi", backend: str = "auto") -> dict:
    """Predict ``split`` with the run's checkpoints and score it; with ``write``, keep the per-sentence
    predictions in the run folder for comparisons and cross-validation."""
    schema, header, rows = predict_split(run_dir, split, batch_size, precision, device, decoding, backend)
    if write:
        write_predictions(predictions_path(run_dir, split), header, rows)
    return score_predictions(schema, header, rows)


def write_json(results: dict, path: str | Path) -> Path:
    return atomic.write_text(path, json.dumps(results, indent=2) + "\n")


def write_evaluation(results: dict, json_path: str | Path) -> list[Path]:
    """``results`` as JSON, the Markdown report beside it (same stem), confusion-matrix PNGs and the HTML
    page of the documents (see :mod:`ie.html_report`)."""
    from ie.plots import confusion_heatmap
    from ie.report import markdown_report

    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    written = [write_json(results, json_path)]
    stem, errors, images = json_path.stem, results.get("errors", {}), []
    if "entities" in errors:
        name = f"{stem}_confusion_entities.png"
        confusion_heatmap(errors["entities"]["confusion"]["exact_span"], "Entity types, exact spans",
                          json_path.parent / name)
        images.append(name)
    for setting, rel in errors.get("relations", {}).items():
        name = f"{stem}_confusion_relations_{setting}.png"
        confusion_heatmap(rel["confusion"], f"Relations, {setting.replace('_', ' ')}", json_path.parent / name)
        images.append(name)
    md = atomic.write_text(json_path.with_suffix(".md"), markdown_report(results, images))
    html = _write_html(results, json_path.with_suffix(".html"))
    return written + [json_path.parent / i for i in images] + [md] + html


def _write_html(results: dict, path: Path) -> list[Path]:
    """The HTML page of the predictions the results were scored from (the run's
    ``predictions_<split>.jsonl``, if it is the one of these results)."""
    from ie.html_report import write_html_report

    source = predictions_path(results.get("run", ""), results.get("split", "")) if "run" in results else None
    if source is None or not source.is_file():
        return []
    header, rows = read_predictions(source)
    if header.get("documents") != results.get("documents"):
        log.warning("%s is not the prediction file of these results; no HTML report", source)
        return []
    schema = _run_schema(Path(results["run"]))
    labels = schema.entity_labels if schema else ()
    symmetric = [r.label for r in schema.relations if r.symmetric] if schema else ()
    return [write_html_report(results, rows, path, labels, symmetric)]


def _run_schema(run_dir: Path) -> Schema | None:
    for task in ("ner", "re"):
        if (run_dir / task / "schema.json").is_file():
            return Schema.load(run_dir / task / "schema.json")
    return None
