"""Splits: named document lists (``data.splits``), or cross-validation folds over documents (k =
number of documents: leave one out) or over sentences for corpora whose "documents" are whole split
files (CoNLL04).

Five seed articles are too few for one train/test split to mean anything; folds let every article
be a test article once, and evaluate.py pools or averages the folds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ie.errors import ConfigError

FOLD_UNITS = ("document", "sentence")


def resolve_splits(
    doc_ids: Sequence[str], splits: Mapping[str, Sequence[str] | None], source: str = "data.splits"
) -> dict[str, list[str]]:
    """Document ids per split. A split given as ``null`` takes every document no other split names; a
    split given as ``[]`` is left out (a config merged over another cannot delete the other's key:
    ``data.splits.dev=[]`` removes the dev split of ``data=conll04``)."""
    known, named, rest = set(doc_ids), {}, [name for name, ids in splits.items() if ids is None]
    if len(rest) > 1:
        raise ConfigError(f"{source}: only one split may be null (the remainder), got {rest}")
    owner: dict[str, str] = {}
    for name, ids in splits.items():
        if ids is None:
            continue
        for doc_id in ids:
            if doc_id not in known:
                raise ConfigError(f"{source}.{name}: unknown document '{doc_id}' (known: {sorted(known)})")
            if doc_id in owner:
                raise ConfigError(f"{source}: document '{doc_id}' is in both '{owner[doc_id]}' and '{name}'")
            owner[doc_id] = name
        named[name] = list(ids)
    if rest:
        named[rest[0]] = [d for d in doc_ids if d not in owner]
    return {name: named[name] for name, ids in splits.items() if ids is None or len(ids)}


def by_sentence(records: Mapping[str, list]) -> dict[str, list]:
    """One pseudo-document per sentence, named ``doc_id#sent_index``, so folds can cut inside files."""
    return {f"{doc_id}#{r.sent_index}": [r] for doc_id, rs in records.items() for r in rs}


def fold_splits(unit_ids: Sequence[str], folds: int, fold: int) -> dict[str, list[str]]:
    """Train/test ids of fold ``fold`` of ``folds``: unit i (in sorted order) is tested in fold i mod k,
    so every unit is tested exactly once over the folds and the folds differ in size by at most one."""
    units = sorted(unit_ids)
    if folds < 2:
        raise ConfigError(f"data.folds: cross-validation needs at least 2 folds, got {folds}")
    if folds > len(units):
        raise ConfigError(f"data.folds={folds}: more folds than units to split ({len(units)})")
    if not 0 <= fold < folds:
        raise ConfigError(f"data.fold={fold}: must be in [0, {folds})")
    test = [u for i, u in enumerate(units) if i % folds == fold]
    return {"train": [u for u in units if u not in set(test)], "test": test}


def inner_fold_splits(outer: Mapping[str, list[str]], inner_fold: int) -> dict[str, list[str]]:
    """Leave-one-out inside an outer fold's training units: ``inner_fold`` of them is tested, the rest
    train, and the outer test units are not used at all, so settings chosen on inner folds never saw
    the outer test fold (nested cross-validation)."""
    units = outer["train"]
    if not 0 <= inner_fold < len(units):
        raise ConfigError(
            f"data.inner_fold={inner_fold}: must be in [0, {len(units)}) (the training units of the outer fold)"
        )
    return fold_splits(units, len(units), inner_fold)


def apply_data_config(records: dict[str, list], data_cfg) -> tuple[dict[str, list], dict]:
    """Records and splits as the data config asks: ``data.splits`` as given, or fold ``data.fold`` of
    ``data.folds`` (which then replaces ``data.splits``), or inside it inner fold ``data.inner_fold``; then
    the training split cut to ``data.train_units`` or ``data.train_entities`` (:mod:`ie.data.subsample`)."""
    from ie.data.subsample import subsample_training

    records, splits = _fold_splits(records, data_cfg)
    if data_cfg.get("train_units") is None and data_cfg.get("train_entities") is None:
        return records, splits
    named = resolve_splits(list(records), splits, "data.splits")
    return subsample_training(records, named, data_cfg)


def _fold_splits(records: dict[str, list], data_cfg) -> tuple[dict[str, list], dict]:
    folds = data_cfg.get("folds", 0)
    if not folds:
        if data_cfg.get("inner_fold") is not None:
            raise ConfigError("data.inner_fold: needs data.folds (the outer cross-validation)")
        return records, data_cfg.splits
    unit = data_cfg.get("fold_by", "document")
    if unit not in FOLD_UNITS:
        raise ConfigError(f"data.fold_by: expected one of {FOLD_UNITS}, got '{unit}'")
    if unit == "sentence":
        records = by_sentence(records)
    splits = fold_splits(list(records), folds, data_cfg.fold)
    if data_cfg.get("inner_fold") is not None:
        splits = inner_fold_splits(splits, data_cfg.inner_fold)
    return records, splits
