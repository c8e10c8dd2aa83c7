"""Initialising a freshly built model from a previous run (``model.init_from=RUN``): transfer learning.

The model is built as usual (from ``model.name_or_path``, the data's schema fixing the head sizes and,
for RE, the marker tokens), then every weight of ``RUN/<task>`` is loaded into it strictly: the
checkpoint's labels must be the data's, and a key missing on either side or of another shape is an
error naming it, never a silent partial load. Nothing here depends on the model class.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors.torch import load_file

from ie.data.schema import Schema
from ie.models.checkpoint import WEIGHTS_FILE, CheckpointError, read_checkpoint_info, read_json, reading_weights

log = logging.getLogger(__name__)

SHARD_INDEX = "model.safetensors.index.json"


def _label_differences(task: str, theirs: Schema, ours: Schema) -> list[str]:
    """The label lists that size the ``task`` model (its head, and for RE the marker tokens)."""
    diffs = []
    if theirs.entity_labels != ours.entity_labels:
        diffs.append(f"entity labels {theirs.entity_labels} != {ours.entity_labels}")
    if task == "re" and theirs.relation_labels != ours.relation_labels:
        diffs.append(f"relation labels {theirs.relation_labels} != {ours.relation_labels}")
    return diffs


def read_weights(checkpoint: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a ``save_pretrained`` folder: ``model.safetensors`` or its shards."""
    checkpoint = Path(checkpoint)
    single = checkpoint / WEIGHTS_FILE
    if single.exists():
        with reading_weights(single):
            return load_file(single)
    index = checkpoint / SHARD_INDEX
    if not index.exists():
        raise CheckpointError(f"{checkpoint}: no {WEIGHTS_FILE} and no {SHARD_INDEX}")
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(set(read_json(index)["weight_map"].values())):
        with reading_weights(checkpoint / shard):
            state.update(load_file(checkpoint / shard))
    return state


def _tied_elsewhere(model: torch.nn.Module, keys: set[str], present: set[str]) -> set[str]:
    """Keys of ``keys`` whose tensor is the same storage as a key in ``present`` (tied weights, which
    ``save_pretrained`` writes once)."""
    params = model.state_dict(keep_vars=True)
    stored = {params[k].data_ptr() for k in present if k in params}
    return {k for k in keys if params[k].data_ptr() in stored}


def load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Load ``state`` into ``model``; any missing, unexpected or differently shaped key is an error."""
    own = model.state_dict()
    missing = set(own) - set(state)
    missing -= _tied_elsewhere(model, missing, set(own) & set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}" for k in set(own) & set(state)
                    if state[k].shape != own[k].shape)
    problems = []
    if missing:
        problems.append(f"missing from the checkpoint: {sorted(missing)}")
    if unexpected:
        problems.append(f"not in the model: {unexpected}")
    if shapes:
        problems.append(f"shapes (checkpoint != model): {shapes}")
    if problems:
        raise CheckpointError(f"{where}: the weights do not fit the model built from the config ("
                              "another encoder, model.config_overrides or schema?): " + "; ".join(problems))
    with torch.no_grad():
        model.load_state_dict(state, strict=False)  # strict by the checks above, tied keys aside


def init_from_run(model: torch.nn.Module, run: str | Path, task: str, schema: Schema) -> Path:
    """Load every weight of ``run/task`` into ``model`` (built for ``schema``); returns the checkpoint."""
    run = Path(run)
    checkpoint = run / task
    where = f"model.init_from={run} ({task})"
    if not checkpoint.is_dir():
        trained = [t for t in ("ner", "re") if (run / t).is_dir()]
        raise CheckpointError(f"{where}: no {task}/ checkpoint in that run (it has {trained or 'none'}); "
                              f"initialise only the tasks it trained (task=...) or pre-train {task} too")
    info = read_checkpoint_info(checkpoint, task)
    diffs = _label_differences(task, info.schema, schema)
    if diffs:
        raise CheckpointError(f"{where}: the checkpoint's schema '{info.schema.name}' does not fit the data's "
                              f"schema '{schema.name}': " + "; ".join(diffs))
    signatures = [d for d in info.schema.differences(schema) if "signature" in d]
    if signatures:  # candidate pairs differ, the weights still fit
        log.warning("%s: relation signatures differ from the data's: %s", where, "; ".join(signatures))
    state = read_weights(checkpoint)
    load_strict(model, state, where)
    log.info("%s: initialised all %d tensors (%d parameters) of the %s model from %s (schema '%s', encoder %s, "
             "data %s)", task.upper(), len(state), sum(t.numel() for t in state.values()), task, checkpoint,
             info.schema.name, info.extra.get("encoder", "?"), info.extra.get("data_fingerprint", "?"))
    return checkpoint


def maybe_init(cfg, task: str, model: torch.nn.Module, schema: Schema) -> None:
    """``init_from_run`` when the config sets ``model.init_from``; the one call training makes."""
    run = cfg.model.get("init_from")
    if run:
        init_from_run(model, run, task, schema)
