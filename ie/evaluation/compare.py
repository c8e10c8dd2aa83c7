"""Comparing runs: group them by config, average over seeds, pool cross-validation folds, and test
differences against a baseline with a paired bootstrap over test sentences.

Runs whose resolved configs differ only in ``seed`` and ``data.fold`` (and paths) form one group.
Within a group, each seed is one replicate: its folds' sentences are pooled (they are disjoint), and
figures are mean ± std over replicates. Without folds a replicate is just a run.
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from tqdm.auto import tqdm

from ie import atomic
from ie.data.schema import Schema
from ie.errors import ConfigError
from ie.evaluation.bootstrap import paired_bootstrap, paired_bootstrap_by_stratum
from ie.evaluation.compare_report import comparison_markdown
from ie.evaluation.error_analysis import breakdown
from ie.evaluation.metrics import Counts, add_counts, scores_from_counts
from ie.evaluation.outputs import write_json
from ie.evaluation.plots import f1_per_type
from ie.evaluation.predictions import read_predictions
from ie.evaluation.scoring import evaluate_run, labels_of, sentence_counts
from ie.runs import CONFIG_FILE, find_runs, predictions_path

log = logging.getLogger(__name__)

HEADLINE = (
    "ner.strict",
    "ner.default",
    "re.gold_entities.strict",
    "re.gold_entities.boundaries",
    "re.end_to_end.strict",
    "re.end_to_end.boundaries",
)
# Keys that name or place a run but do not change what it learns.
NOT_CONFIG = (
    "seed",
    "data.fold",
    "data.inner_fold",
    "run_name",
    "evaluate_split",
    "eval_batch_size",
    "trainer.disable_tqdm",
    "trainer.logging_steps",
    "trainer.report_to",
    "trainer.bf16_reason",
    "pretrain.trainer.bf16_reason",
    "trainer.checkpoint_every_epochs",
    "pretrain.trainer.checkpoint_every_epochs",
)
KeyedCounts = dict[tuple[str, int], dict[str, Counts]]  # sentence -> metric -> counts


@dataclass
class Run:
    path: Path
    config: dict[str, str]  # flattened resolved config
    schema: Schema
    counts: KeyedCounts
    errors: dict = field(default_factory=dict)  # error_analysis.breakdown of its predictions

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    @property
    def fold(self) -> int | None:
        return int(self.config["data.fold"]) if int(self.config.get("data.folds", 0)) else None

    @property
    def replicate(self) -> int | tuple[int, int]:
        """What one pooled pass over the test sentences is: a seed's folds, or with inner folds (nested
        cross-validation) a seed's inner folds of one outer fold."""
        inner = self.config.get("data.inner_fold", "None")
        return self.seed if inner == "None" else (self.seed, self.fold)


@dataclass
class Group:
    name: str
    runs: list[Run] = field(default_factory=list)

    def replicates(self) -> dict:
        """Replicate (a seed, or a seed and outer fold) -> the pooled sentence counts of its runs (folds)."""
        out: dict = {}
        for run in self.runs:
            pooled = out.setdefault(run.replicate, {})
            clash = pooled.keys() & run.counts.keys()
            if clash:
                raise ConfigError(
                    f"{run.path}: seed {run.seed} scores sentence {sorted(clash)[0]} twice in group "
                    f"'{self.name}'; folds of one seed must test disjoint sentences"
                )
            pooled.update(run.counts)
        return out


def flatten(node, prefix: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: str(node)}


def load_run(path: Path, split: str, batch_size: int = 32, predict: dict | None = None) -> Run:
    """A run's per-sentence counts, from its predictions file (predicted now if it has none, with the
    ``predict`` options of :func:`ie.evaluation.scoring.evaluate_run`: precision, backend, decoding...)."""
    preds = predictions_path(path, split)
    if not preds.exists():
        log.info("%s: no %s, predicting %s now", path, preds.name, split)
        evaluate_run(path, split=split, batch_size=batch_size, **(predict or {}))
    cfg = with_defaults(OmegaConf.load(path / CONFIG_FILE))
    schema = Schema.load(cfg.data.schema)
    header, rows = read_predictions(preds)
    counts = {(row["doc_id"], row["sent_index"]): sentence_counts(schema, row) for row in rows}
    # how the predictions were made is part of the system: the same checkpoints decoded otherwise differ
    made = {
        "eval.decoding": str(header.get("decoding", "viterbi")),
        "eval.precision": str(header.get("precision", "fp32")),
        "eval.relation_classes": str(header.get("relation_classes", "all")),
    }
    return Run(
        path,
        {**portable(flatten(OmegaConf.to_container(cfg, resolve=True))), **made},
        schema,
        counts,
        breakdown(schema, rows),
    )


def with_defaults(cfg):
    """A run's saved config with the keys added since it ran at their defaults (a new key's default is the
    behaviour from before it existed), so an older run and a newer one of the same recipe are one group."""
    from omegaconf.errors import OmegaConfBaseException

    from ie.config import TrainConfig, register

    register()  # the resolvers of the defaults' interpolations (${project_root:}, ...)
    try:
        return OmegaConf.merge(OmegaConf.structured(TrainConfig), cfg)
    except OmegaConfBaseException:  # a config of a shape this code no longer knows: compared as it was saved
        return cfg


def portable(config: dict[str, str]) -> dict[str, str]:
    """The config with its checkout's root (``paths.root``) written ``<root>``, an installed package's
    path from ``site-packages/`` on, and the folder CoNLL04 was read from (``paths.conll04``, or
    ``data/conll04`` in the checkout, where runs before it was read in place found it) written
    ``<conll04>``: the same recipe run from two checkouts, environments or copies of the data is one
    configuration."""
    root = config.get("paths.root") or "\0"
    conll04 = {config.get("paths.conll04"), f"{root}/data/conll04"} - {None}

    def local(value):
        if not isinstance(value, str):
            return value
        if value in conll04:
            return "<conll04>"
        value = value.replace(root, "<root>")
        return value[value.index("site-packages/") :] if "site-packages/" in value else value

    return {k: local(v) for k, v in config.items()}


def identity(run: Run) -> tuple:
    """What a run learned from: its flattened config without seed, fold, names and paths."""
    return tuple(sorted((k, v) for k, v in run.config.items() if k not in NOT_CONFIG and not k.startswith("paths.")))


def group_runs(runs: Sequence[Run]) -> list[Group]:
    """Group by config (ignoring seed, fold and paths); name groups by the keys that tell them apart."""
    keyed: dict[tuple, list[Run]] = {}
    for run in runs:
        keyed.setdefault(identity(run), []).append(run)
    configs = [dict(k) for k in keyed]
    differing = sorted({k for c in configs for k in c if any(c.get(k) != o.get(k) for o in configs)})
    groups = []
    for key, members in keyed.items():
        name = group_label(dict(key), differing, configs) or members[0].config.get("run_name", "runs")
        groups.append(Group(name, sorted(members, key=lambda r: (r.seed, r.fold or 0))))
    return groups


def group_by_folder(paths: Sequence[str | Path], runs: Sequence[Run]) -> list[Group]:
    """One group per listed folder, named by it: for a recipe whose settings differ between folds by
    design (chosen per outer fold by nested cross-validation), which grouping by config would split."""
    groups = []
    for path in map(Path, paths):
        members = [r for r in runs if r.path == path or path in r.path.parents]
        groups.append(
            Group(
                path.name if sum(Path(p).name == path.name for p in paths) == 1 else str(path),
                sorted(members, key=lambda r: (r.seed, r.fold or 0)),
            )
        )
    return groups


def group_label(config: dict[str, str], differing: Sequence[str], configs: Sequence[dict[str, str]]) -> str:
    """``key=value`` for each differing key, with a section that is null in some groups (``pretrain``, ``mix``)
    written once, as ``pretrain=None`` or ``pretrain=<its data name>``, instead of one entry per key inside it;
    keys inside it still appear where two groups that both have the section differ on them."""
    toggled = sorted(
        k for k in differing if any(k in c for c in configs) and any(o.startswith(k + ".") for c in configs for o in c)
    )
    parts = []
    for key in differing:
        section = next((t for t in toggled if key == t or key.startswith(t + ".")), None)
        if section is None:
            parts.append(f"{key}={config.get(key, '-')}")
        elif key == section:
            parts.append(f"{section}={_section_summary(config, section)}")
        elif key in config and _differs_where_present(key, section, configs):
            parts.append(f"{key}={config[key]}")
    return ", ".join(parts)


def _section_summary(config: dict[str, str], section: str) -> str:
    if section in config:
        return config[section]
    return config.get(f"{section}.data.name") or config.get(f"{section}.name") or "set"


def _differs_where_present(key: str, section: str, configs: Sequence[dict[str, str]]) -> bool:
    values = {c.get(key) for c in configs if section not in c}
    return len(values) > 1


def mean_std(values: Sequence[float]) -> dict:
    """Mean, sample std (0 for one value), count and the values themselves, as every comparison table reads them."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
        "values": list(values),
    }


def totals(counts: KeyedCounts, metric: str) -> Counts:
    total: Counts = {}
    for sentence in counts.values():
        add_counts(total, sentence.get(metric, {}))
    return total


def metrics_of(group: Group) -> list[str]:
    return [m for m in HEADLINE if all(m in c for run in group.runs for c in run.counts.values())]


def summarize(group: Group) -> dict:
    """Per metric: replicate scores (seeds, folds pooled) as mean ± std, per type too; per-fold spread."""
    schema = group.runs[0].schema
    replicates = group.replicates()
    out: dict = {
        "runs": [str(r.path) for r in group.runs],
        "seeds": sorted(replicates),
        "folds": sorted({r.fold for r in group.runs if r.fold is not None}),
        "metrics": {},
        "config": dict(identity(group.runs[0])),
    }
    for metric in metrics_of(group):
        labels = labels_of(schema, metric)
        scores = [scores_from_counts(totals(rep, metric), labels) for rep in replicates.values()]
        entry = {k: mean_std([s["micro"][k] for s in scores]) for k in ("precision", "recall", "f1")}
        entry["macro_f1"] = mean_std([s["macro"]["f1"] for s in scores])
        entry["per_type_f1"] = {t: mean_std([s["per_type"][t]["f1"] for s in scores]) for t in labels}
        entry["support"] = scores[0]["micro"]["support"]
        if out["folds"]:
            entry["per_fold_f1"] = mean_std(
                [scores_from_counts(totals(r.counts, metric), labels)["micro"]["f1"] for r in group.runs]
            )
        out["metrics"][metric] = entry
    out["errors"] = _mean_breakdown([run.errors for run in group.runs], len(replicates))
    return out


def _mean_breakdown(tables: Sequence[dict], replicates: int) -> dict:
    """The runs' error breakdowns added up (folds of a seed cover each sentence once) and divided by the
    number of replicates: the outcome counts of one pass over the test sentences, averaged over seeds."""

    def add(into: dict, node: dict) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                add(into.setdefault(key, {}), value)
            else:
                into[key] = into.get(key, 0) + value / replicates

    total: dict = {}
    for table in tables:
        add(total, table)
    return total


def _replicate_array(replicate: KeyedCounts, metric: str, keys: Sequence[tuple]) -> np.ndarray:
    """``(sentences, 3)``: each sentence's micro ``[tp, fp, fn]`` for ``metric`` in one replicate."""
    return np.array(
        [[sum(row[i] for row in replicate[k].get(metric, {}).values()) for i in range(3)] for k in keys], dtype=float
    )


def _sentence_array(replicates: dict, metric: str, keys: Sequence[tuple]) -> np.ndarray:
    """``(replicates, sentences, 3)``: each sentence's micro ``[tp, fp, fn]`` for ``metric``."""
    return np.array([_replicate_array(rep, metric, keys) for rep in replicates.values()], dtype=float)


def bootstrap_against(base: Group, other: Group, metric: str, samples: int, seed: int) -> dict:
    base_reps, other_reps = base.replicates(), other.replicates()
    base_keys = {frozenset(rep) for rep in base_reps.values()}
    other_keys = {frozenset(rep) for rep in other_reps.values()}
    if len(base_keys | other_keys) == 1:
        keys = sorted(next(iter(base_keys)))
        return paired_bootstrap(
            _sentence_array(base_reps, metric, keys), _sentence_array(other_reps, metric, keys), samples, seed
        )
    if base_reps.keys() == other_reps.keys() and all(base_reps[r].keys() == other_reps[r].keys() for r in base_reps):
        # nested cross-validation: each replicate (seed, outer fold) tests its own sentences, the same in both
        strata = [
            (
                _replicate_array(base_reps[r], metric, sorted(base_reps[r])),
                _replicate_array(other_reps[r], metric, sorted(base_reps[r])),
            )
            for r in sorted(base_reps, key=str)
        ]
        return paired_bootstrap_by_stratum(strata, samples, seed)
    return {"skipped": "the runs were not scored on the same test sentences"}


# --- the comparison ------------------------------------------------------------------------------

GROUP_BY = ("config", "folder")


def compare_runs(
    paths: Sequence[str | Path],
    split: str = "test",
    baseline: str | None = None,
    samples: int = 1000,
    seed: int = 0,
    batch_size: int = 32,
    group_by: str = "config",
    predict: dict | None = None,
) -> dict:
    """``predict``: how a run without predictions of ``split`` is predicted (:func:`load_run`); runs with
    them keep theirs, and how they were made (precision, decoding) is part of each group's identity."""
    if group_by not in GROUP_BY:
        raise ConfigError(f"group_by: expected one of {list(GROUP_BY)}, got '{group_by}'")
    entries = [entry_split(p, split) for p in paths]  # PATH@SPLIT scores that entry's runs on SPLIT
    runs = [
        load_run(run, entry, batch_size, predict)
        for path, entry in tqdm(entries, desc="entries", unit="entry")
        for run in find_runs([path])
    ]
    if len({r.path for r in runs}) != len(runs):
        raise ConfigError("compare: a run is listed twice")
    schemas = {json.dumps(r.schema.to_dict(), sort_keys=True) for r in runs}
    if len(schemas) > 1:
        raise ConfigError("compare: the runs use different schemas; their scores are not comparable")
    groups = group_runs(runs) if group_by == "config" else group_by_folder([path for path, _ in entries], runs)
    base = _pick_baseline(groups, baseline)
    splits = sorted({entry for _, entry in entries})
    result: dict = {
        "split": split if splits == [split] else ", ".join(f"{p}: {e}" for p, e in entries),
        "baseline": base.name,
        "groups": {},
    }
    base_summary = summarize(base)
    for group in tqdm(groups, desc="groups", unit="group"):
        summary = summarize(group) if group is not base else base_summary
        if group is not base:
            summary["against_baseline"] = {}
            for metric in set(summary["metrics"]) & set(base_summary["metrics"]):
                mine, theirs = summary["metrics"][metric], base_summary["metrics"][metric]
                summary["against_baseline"][metric] = {
                    "f1": mine["f1"]["mean"] - theirs["f1"]["mean"],
                    "macro_f1": mine["macro_f1"]["mean"] - theirs["macro_f1"]["mean"],
                    "per_type_f1": {
                        t: mine["per_type_f1"][t]["mean"] - theirs["per_type_f1"][t]["mean"]
                        for t in mine["per_type_f1"]
                    },
                    "bootstrap": bootstrap_against(base, group, metric, samples, seed),
                }
        result["groups"][group.name] = summary
    return result


def entry_split(path: str | Path, split: str) -> tuple[str, str]:
    """``PATH@SPLIT`` -> (PATH, SPLIT); a bare path takes ``split``. Runs trained on other data but tested on
    the same documents (a corpus's split ``seeds`` against the seeds' cross-validation) pair sentence by
    sentence like any others."""
    text = str(path)
    head, at, tail = text.rpartition("@")
    if at and head and tail and "/" not in tail:
        return head, tail
    return text, split


def _pick_baseline(groups: list[Group], baseline: str | None) -> Group:
    if baseline is None:
        return groups[0]
    for group in groups:
        if baseline == group.name or any(str(r.path) == str(Path(baseline)) for r in group.runs):
            return group
    raise ConfigError(
        f"compare: baseline '{baseline}' is neither a group name nor a run; groups: {[g.name for g in groups]}"
    )


def write_comparison(result: dict, out_dir: str | Path) -> dict[str, Path]:
    """``compare.json`` (everything), ``compare.md`` and one per-type F1 plot per headline metric."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"json": write_json(result, out / "compare.json")}
    images = []
    for metric in HEADLINE:
        series = {
            name: {t: (v["mean"], v["std"]) for t, v in g["metrics"][metric]["per_type_f1"].items()}
            for name, g in result["groups"].items()
            if metric in g["metrics"]
        }
        if series:
            types = list(next(iter(series.values())))
            name = f"f1_per_type_{metric.replace('.', '_')}.png"
            written[name] = f1_per_type(series, types, f"{metric}: F1 per type (mean ± std)", out / name)
            images.append(name)
    written["markdown"] = atomic.write_text(out / "compare.md", comparison_markdown(result, images))
    return written
