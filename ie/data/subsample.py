"""Smaller training sets, for a learning curve: how much would more annotation buy?

``data.train_units=k`` keeps k of the training documents; ``data.train_entities=n`` keeps training
sentences until they hold at least n entities (for a corpus whose documents are whole split files, such
as CoNLL04, or to match another corpus's size). The draw is seeded by ``data.train_sample`` alone, so
within one fold and sample the smaller sets are nested in the larger ones (the k = 1 article is among the
k = 2 ones), which is what makes the points of one curve comparable. Test and dev splits are untouched.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from ie.errors import ConfigError


def _draw(units: list[str], sample: int) -> list[str]:
    order = sorted(units)
    random.Random(f"train_sample={sample}").shuffle(order)
    return order


def subsample_training(records: dict[str, list], splits: Mapping, data_cfg) -> tuple[dict[str, list], dict]:
    """Records and splits with the training split cut as ``data.train_units`` / ``train_entities`` ask (one of
    them is set: :func:`ie.data.folds.apply_data_config` calls this only then)."""
    units, entities = data_cfg.get("train_units"), data_cfg.get("train_entities")
    if units is not None and entities is not None:
        raise ConfigError("data.train_units and data.train_entities: give one of them, not both")
    splits = dict(splits)
    train = splits.get("train")
    if not train:
        raise ConfigError(
            f"data.train_units/train_entities: the data has no named train split to cut (splits: {sorted(splits)})"
        )
    sample = data_cfg.get("train_sample", 0)
    if units is not None:
        if not 1 <= units <= len(train):
            raise ConfigError(f"data.train_units={units}: must be in [1, {len(train)}] (the training documents)")
        splits["train"] = sorted(_draw(list(train), sample)[:units])
        return records, splits
    sentences = {f"{doc_id}#{r.sent_index}": r for doc_id in train for r in records[doc_id]}
    available = sum(len(r.entities) for r in sentences.values())
    if not 1 <= entities <= available:
        raise ConfigError(
            f"data.train_entities={entities}: must be in [1, {available}] (the entities of the training split)"
        )
    chosen, held = [], 0
    for unit in _draw(list(sentences), sample):
        if held >= entities:
            break
        chosen.append(unit)
        held += len(sentences[unit].entities)
    training = set(train)
    kept = {doc_id: rs for doc_id, rs in records.items() if doc_id not in training}
    kept.update({unit: [sentences[unit]] for unit in sorted(chosen)})
    splits["train"] = sorted(chosen)
    return kept, splits
