"""A run's predictions of a split, one record per sentence: gold and predicted entities (word spans)
and relations (indices into those entities), kept in ``RUN/predictions_<split>.jsonl`` beside the
checkpoints. Every score, comparison, bootstrap and cross-validation pool is computed from these
records (:mod:`ie.evaluation.scoring`), so they all agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from ie.data.corpus import load_corpus
from ie.data.schema import Schema
from ie.errors import ConfigError
from ie.inference.decoding import scored_entities
from ie.inference.predictor import RELATION_CLASSES, Predictor
from ie.models.checkpoint import CheckpointError
from ie.runs import CONFIG_FILE, RunError


def predict_split(
    run_dir: str | Path,
    split: str = "test",
    batch_size: int = 32,
    precision: str = "fp32",
    device: str = "cpu",
    decoding: str | None = None,
    backend: str = "auto",
    threads: int | None = None,
) -> tuple[Schema, dict, list[dict]]:
    """The run's schema, a header (split, documents, lost pairs) and one record per sentence with gold
    and predicted entities (word spans) and relations (indices into those entities)."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise RunError(
            f"{run_dir}: no {CONFIG_FILE}, so no data to score against (an ONNX export on its own "
            "predicts, but is scored from the run folder it came from: evaluate.py run=RUN backend=onnx)"
        )
    cfg = OmegaConf.load(run_dir / CONFIG_FILE)
    schema = Schema.load(cfg.data.schema)
    records, splits = load_corpus(cfg.data, schema)
    if split not in splits:
        raise ConfigError(
            f"split '{split}' is not one of the run's splits {list(splits)} (evaluate.py split=..., "
            "train.py evaluate_split=...)"
        )
    sentences = [r for doc_id in splits[split] for r in records[doc_id]]
    predictor = Predictor.from_pretrained(
        run_dir, device=device, precision=precision, decoding=decoding, backend=backend, threads=threads
    )
    diffs = schema.differences(predictor.schema)
    if diffs:
        raise CheckpointError(
            f"{run_dir}: checkpoint schema differs from the data's {cfg.data.schema}: " + "; ".join(diffs)
        )
    words = [r.words for r in sentences]
    rows = [
        {
            "doc_id": r.doc_id,
            "sent_index": r.sent_index,
            "words": r.words,
            "gold_entities": [list(e) for e in r.entities],
            "gold_relations": [list(x) for x in r.relations],
            "start": r.start,
            "end": r.end,
            "word_starts": r.word_starts,
            "word_ends": r.word_ends,
        }
        for r in sentences
    ]
    header: dict = {
        "run": str(run_dir),
        "split": split,
        "documents": splits[split],
        "sentences": len(sentences),
        "precision": predictor.precision,
        "precision_reason": predictor.precision_reason,
        "decoding": predictor.decoding,
        "backends": predictor.backends,
        "relation_classes": RELATION_CLASSES,
    }
    if predictor.ner_model is not None:
        tags, probs = predictor.word_tags(words, batch_size, progress=True, documents=[r.doc_id for r in sentences])
        for row, t, p in zip(rows, tags, probs):
            row["pred_tags"] = t
            row["pred_entities"] = [list(e) for e in scored_entities(t, p)]
    if predictor.re_model is not None:
        lost = predictor.lost_pairs
        documents = [r.doc_id for r in sentences]
        with_gold = predictor.classify_pairs(
            words, [r.entities for r in sentences], batch_size, progress=True, documents=documents
        )
        header["lost_pairs"] = {"gold_entities": predictor.lost_pairs - lost}
        for row, rels in zip(rows, with_gold):
            row["gold_entity_relations"] = [list(x) for x in rels]
        if predictor.ner_model is not None:
            lost = predictor.lost_pairs
            end_to_end = predictor.classify_pairs(
                words, [row["pred_entities"] for row in rows], batch_size, progress=True, documents=documents
            )
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
    """The header and the sentence records of a predictions file; a damaged line is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise RunError(
            f"{path}: no predictions file; make it with evaluate.py run={path.parent} "
            f"split={path.stem.removeprefix('predictions_')}"
        )
    records = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise RunError(f"{path}:{lineno}: not JSON ({err.msg}); evaluate the run again to rewrite it") from None
    if not records or not isinstance(records[0], dict) or "header" not in records[0]:
        raise RunError(f"{path}: not a predictions file (first line must hold the header)")
    return records[0]["header"], records[1:]
