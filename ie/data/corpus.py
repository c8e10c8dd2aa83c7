"""A ``data`` config -> validated records and resolved splits: where training, evaluation and the
model card all start, so they always see the same documents in the same split."""

from __future__ import annotations

from omegaconf import OmegaConf

from ie.data.folds import apply_data_config, resolve_splits
from ie.data.label_map import LabelMap
from ie.data.readers import load_records
from ie.data.records import SentenceRecord
from ie.data.schema import Schema
from ie.data.text import DEFAULT_SEGMENTER


def load_corpus(
    data_cfg, schema: Schema, warnings: list | None = None, label_report: dict | None = None
) -> tuple[dict[str, list[SentenceRecord]], dict[str, list[str]]]:
    """Records and resolved splits of a ``data`` config (its splits, or one cross-validation fold).
    Validation warnings go to ``warnings`` when given. With ``data.label_map`` set, ``schema`` is the
    target schema and the map's counts (:meth:`LabelMap.summary`) go to ``label_report["label_map"]``
    when given."""
    label_map = LabelMap.from_config(data_cfg.get("label_map"), schema)
    records = load_records(
        data_cfg.format, data_cfg.path, schema, warnings, label_map, data_cfg.get("segmenter", DEFAULT_SEGMENTER)
    )
    if label_map is not None and label_report is not None:
        label_report["label_map"] = label_map.summary()
    records, splits = apply_data_config(records, data_cfg)
    splits = OmegaConf.to_container(splits) if OmegaConf.is_config(splits) else splits
    source = f"data fold {data_cfg.fold} of {data_cfg.folds}" if data_cfg.get("folds", 0) else "data.splits"
    if data_cfg.get("inner_fold") is not None:
        source += f", inner fold {data_cfg.inner_fold}"
    return records, resolve_splits(list(records), splits, source)
