"""Pre-training built once and reused: ``pretrain=conll04`` trains a run on another corpus first, and its
checkpoints start this run's models (``model.init_from``).

The pre-training run lives in ``pretrain.cache_dir/<key>/``. The key hashes what decides its weights: the
data's content fingerprint (records and schema), the segmenter, the encoder (the hash of its weight files
for a local folder, else its id), the model settings, the pre-training trainer settings, the tasks and
the seed. A later run with the same key reuses the folder; any change builds a new one. Building and
checking happen under a lock, so parallel sweep jobs build a key once; a build counts as finished only
when its ``metrics.json`` is written, the last thing a run writes but its card, so a killed build is
built again, never reused.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ie import distributed
from ie.config import TrainConfig
from ie.data.formats.conll04 import missing_files
from ie.errors import ConfigError
from ie.runs import METRICS_FILE
from ie.training.prepare import load_data

log = logging.getLogger(__name__)

# Keys that change how a run is logged, not what it learns.
NOT_WEIGHTS = (
    "report_to",
    "disable_tqdm",
    "logging_steps",
    "save_total_limit",
    "bf16_reason",
    "checkpoint_every_epochs",
)


def pretraining_config(cfg: DictConfig, output_dir: Path | str) -> DictConfig:
    """The pre-training run's config: this run's model (without ``init_from``) and tasks, with
    ``pretrain.data``, ``pretrain.trainer`` and ``pretrain.seed``."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    pre = resolved["pretrain"]
    model = {**resolved["model"], "init_from": None}
    return OmegaConf.merge(
        OmegaConf.structured(TrainConfig),
        {
            "data": pre["data"],
            "trainer": pre["trainer"],
            "model": model,
            "task": resolved["task"],
            "seed": pre["seed"],
            "run_name": f"pretrain_{pre['data']['name']}",
            "paths": {**resolved["paths"], "output_dir": str(output_dir)},
        },
    )


def encoder_identity(name_or_path: str) -> str:
    """A local encoder by the content of its weights (the same files anywhere hash the same), a hub id by
    its name."""
    folder = Path(name_or_path)
    weights = (sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))) if folder.is_dir() else []
    if not weights:
        return name_or_path
    digest = hashlib.sha256()
    for path in weights:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def cache_key(pre: DictConfig, fingerprint: str) -> str:
    trainer = {k: v for k, v in OmegaConf.to_container(pre.trainer).items() if k not in NOT_WEIGHTS}
    if not isinstance(trainer.get("bf16"), bool):  # the key holds the precision run, never "auto"
        raise ConfigError(
            f"pretrain.trainer.bf16 must be chosen (true or false) before the cache key, got {trainer.get('bf16')!r}"
        )
    for task in ("ner", "re"):  # settings added later count only where set off their default: older keys stay valid
        if trainer.get(task, {}).get("loss_classes") == "all":
            del trainer[task]["loss_classes"]
    model = OmegaConf.to_container(pre.model)
    if model.get("shared_encoder") == "none":  # the default since it exists: older keys stay valid
        del model["shared_encoder"]
    identity = {
        "data": fingerprint,
        "segmenter": pre.data.segmenter,
        "encoder": encoder_identity(model.pop("name_or_path")),
        "model": {k: v for k, v in model.items() if k != "name"},
        "trainer": trainer,
        "tasks": list(pre.task.names),
        "seed": pre.seed,
    }
    # what training adds to the annotated data (the fingerprint's), only where set: older keys stay valid
    if pre.data.get("mention_replacement"):
        identity["mention_replacement"] = pre.data.mention_replacement
    if pre.get("mix"):
        identity["mix"] = OmegaConf.to_container(pre.mix, resolve=True)
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def missing_data(pre: DictConfig) -> list[str]:
    """The files of ``pre.data`` that are missing, for a corpus read in place (CoNLL04); ``[]`` otherwise."""
    if pre.data.format == "conll04":
        return missing_files(pre.data.path)
    return []


def skip_if_missing(cfg: DictConfig) -> None:
    """Drop ``cfg.pretrain`` (one warning line) where its data is missing and it was not asked for
    (``pretrain.required``); asked for, the reader's one-line error says where to put the files."""
    missing = missing_data(cfg.pretrain)
    if missing and not cfg.pretrain.required:
        log.warning(
            "pretrain: %s is missing, so this run trains without pre-training on %s (put the files there or "
            "set IE_CONLL04_DIR / paths.conll04; data/conll04/README.md); pretrain=none silences this",
            missing[0],
            cfg.pretrain.data.name,
        )
        cfg.pretrain = None


def pretrained_run(cfg: DictConfig, build: Callable[[DictConfig], dict]) -> Path:
    """The folder of ``cfg.pretrain``'s run, built now with ``build`` (a training run) if no finished run
    with its key exists."""
    cache = Path(cfg.pretrain.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    probe = pretraining_config(cfg, cache)
    key = cache_key(probe, load_data(probe).fingerprint)
    folder = cache / key
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel job building the same key finishes first
        if (folder / METRICS_FILE).is_file():
            log.info("pretrain: reusing %s (key %s)", folder, key)
            return folder
        if distributed.world_size() > 1:
            raise ConfigError(
                f"pretrain: {folder} is not built yet, and torchrun processes cannot build it each "
                "on their own: build it first in one process (the same command without torchrun)"
            )
        shutil.rmtree(folder, ignore_errors=True)  # what a killed build left
        log.info("pretrain: building %s (key %s) on %s", folder, key, probe.data.name)
        build(pretraining_config(cfg, folder))
    return folder
