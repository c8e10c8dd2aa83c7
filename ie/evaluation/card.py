"""The model card (``README.md``) of a run folder: what a person or a service needs before using it.

Made only from what the run folder holds (``config.yaml``, the checkpoints' ``schema.json`` and
``ie.json``, ``metrics.json``) plus the data the config names, which is re-read for the counts and to
say whether it still has the fingerprint the models were trained on. Training writes it at the end;
``python -m ie.card RUN`` writes it again for an existing run.
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

from ie import atomic
from ie.data.corpus import load_corpus
from ie.data.records import fingerprint
from ie.data.schema import Schema
from ie.errors import IEError
from ie.evaluation.compare import flatten
from ie.models.checkpoint import CheckpointInfo, read_checkpoint_info, read_json
from ie.runs import CARD_FILE, CONFIG_FILE, METRICS_FILE, TASKS, RunNotFoundError

# What may differ between a final run and the cross-validation that estimates its recipe.
ESTIMATE_MAY_DIFFER = ("data.splits", "data.folds", "data.fold", "evaluate_split", "estimate", "run_name", "eval.")


def _checkpoints(run_dir: Path) -> dict[str, CheckpointInfo]:
    return {task: read_checkpoint_info(run_dir / task, task) for task in TASKS if (run_dir / task).is_dir()}


def _encoder(run_dir: Path, task: str) -> dict:
    config = read_json(run_dir / task / "config.json")
    tok_path = run_dir / task / "tokenizer_config.json"
    tokenizer = read_json(tok_path) if tok_path.is_file() else {}
    return {
        "type": config.get("model_type", "?"),
        "layers": config.get("num_hidden_layers", "?"),
        "hidden": config.get("hidden_size", "?"),
        "lower_case": bool(tokenizer.get("do_lower_case")),
    }


def _data_section(cfg, schema: Schema, trained_on: set[str]) -> list[str]:
    """Counts per split and whether the data still matches the fingerprint the checkpoints recorded."""
    lines = [
        f"- data: `{cfg.data.name}` ({cfg.data.format}) at `{cfg.data.path}`",
        *(
            [
                "- labels mapped to this schema from the source's (`data.label_map`): "
                + ", ".join(
                    f"{src} → {dst}"
                    for kind in ("entities", "relations")
                    for src, dst in (cfg.data.label_map.get(kind) or {}).items()
                )
                + "; every other source label dropped"
            ]
            if cfg.data.get("label_map")
            else []
        ),
        f"- content hash (data and schema) at training: `{', '.join(sorted(trained_on)) or 'not recorded'}`",
    ]
    try:
        records, splits = load_corpus(cfg.data, schema)
    except (IEError, OSError) as error:  # the data may have moved or changed since; the card still gets written
        return lines + [f"- the data could not be read now ({type(error).__name__}: {error}); no counts"]
    now = fingerprint(records, schema)
    lines.append(
        f"- content hash of the data now: `{now}`"
        + (" (the same)" if trained_on == {now} else " (**differs**: the data changed since training)")
    )
    lines += ["", "| split | documents | sentences | entities | relations |", "|---|---:|---:|---:|---:|"]
    for name, doc_ids in splits.items():
        sents = [r for d in doc_ids for r in records[d]]
        lines.append(
            f"| {name} | {len(doc_ids)} | {len(sents)} | {sum(len(r.entities) for r in sents)} | "
            f"{sum(len(r.relations) for r in sents)} |"
        )
    lines += ["", "Documents: " + "; ".join(f"{name}: {', '.join(ids)}" for name, ids in splits.items())]
    return lines


def _strict(scores: dict | None) -> dict | None:
    """The strict scores of a metric; runs made before evaluation had modes hold them directly."""
    if not scores:
        return None
    return scores.get("strict", scores if "micro" in scores else None)


def _estimate_section(cfg) -> list[str]:
    """For a run with no test split: the cross-validation figures of its recipe (``estimate``: a
    compare.json whose baseline group is that recipe), labelled as the estimate they are."""
    path = Path(cfg.estimate)
    if not path.is_file():
        return [f"No test split, and the estimate `{path}` (`estimate`) was not found."]
    result = json.loads(path.read_text(encoding="utf-8"))
    group = result["groups"][result["baseline"]]
    ours = flatten(OmegaConf.to_container(cfg, resolve=True))
    differs = sorted(
        k for k, v in group.get("config", {}).items() if not k.startswith(ESTIMATE_MAY_DIFFER) and ours.get(k, "-") != v
    )
    lines = [
        f"This run trained on every document of its data, so it has no test split of its own. **Estimate** "
        f"from `{path}`: cross-validation of the same recipe (group `{result['baseline']}`, seeds "
        f"{', '.join(map(str, group['seeds']))}, folds pooled), not a test of this model."
        + (f" The recipe there differs from this run's in: {', '.join(differs)}." if differs else ""),
        "",
        "| metric (strict micro) | P | R | F1 | macro F1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for metric, name in (
        ("ner.strict", "NER"),
        ("re.gold_entities.strict", "RE, gold entities"),
        ("re.end_to_end.strict", "RE, end to end"),
    ):
        m = group["metrics"].get(metric)
        if m:
            lines.append(
                f"| {name} | "
                + " | ".join(
                    f"{m[k]['mean']:.3f} ± {m[k]['std']:.3f}" for k in ("precision", "recall", "f1", "macro_f1")
                )
                + " |"
            )
    return lines


def _metrics_section(metrics: dict | None, run_dir: Path, cfg=None) -> list[str]:
    if metrics is None:
        if cfg is not None and cfg.get("estimate"):
            return _estimate_section(cfg)
        return ["No `metrics.json` in this run folder."]
    reports = [f"`{name}`" for name in ("metrics.md", "metrics.html") if (run_dir / name).is_file()]
    lines = [
        f"Split `{metrics.get('split')}` ({metrics.get('sentences')} sentences of "
        f"{', '.join(metrics.get('documents', []))}), scored as `evaluate.py` does"
        + (f" (details: {' and '.join(reports)})." if reports else "."),
        "",
        "| metric | micro P | micro R | micro F1 | macro F1 |",
        "|---|---:|---:|---:|---:|",
    ]
    ner = _strict(metrics.get("ner"))
    rows = [
        ("NER, strict IOB2", ner),
        ("RE, gold entities, strict", _strict(metrics.get("re", {}).get("gold_entities"))),
        ("RE, end to end, strict", _strict(metrics.get("re", {}).get("end_to_end"))),
    ]
    for name, scores in rows:
        if scores:
            m = scores["micro"]
            lines.append(
                f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {scores['macro']['f1']:.3f} |"
            )
    if ner:
        lines += ["", "NER F1 per type: " + ", ".join(f"{label} {s['f1']:.2f}" for label, s in ner["per_type"].items())]
    return lines


def _schema_section(schema: Schema, tasks) -> list[str]:
    bar = " \\| "  # a '|' inside a Markdown table cell
    return [
        f"Schema `{schema.name}` version {schema.version}. Tasks: {', '.join(tasks)}.",
        "",
        "| entity | description |",
        "|---|---|",
        *[f"| {e.label} | {e.description} |" for e in schema.entities],
        "",
        "| relation | head | tail | symmetric | description |",
        "|---|---|---|---|---|",
        *[
            f"| {r.label} | {bar.join(r.heads)} | {bar.join(r.tails)} | {'yes' if r.symmetric else 'no'} | "
            f"{r.description} |"
            for r in schema.relations
        ],
    ]


def _encoder_section(cfg, infos: dict[str, CheckpointInfo], encoder: dict) -> list[str]:
    source = {info.extra.get("encoder", cfg.model.name_or_path) for info in infos.values()}
    return [
        f"- `{cfg.model.name}`: {', '.join(sorted(source))}"
        + (" (random initialisation, `from_scratch`: a test model)" if cfg.model.from_scratch else ""),
        *(
            [
                f"- initialised from the checkpoints of run `{cfg.model.init_from}` (`model.init_from`), "
                "then fine-tuned here"
            ]
            if cfg.model.get("init_from")
            else []
        ),
        f"- {encoder['type']}, {encoder['layers']} layers, hidden size {encoder['hidden']}, "
        + ("**uncased** (the tokenizer lower-cases)" if encoder["lower_case"] else "cased"),
        "- windows: "
        + ", ".join(
            f"{task} max_length {info.max_length}" + (f" stride {info.stride}" if task == "ner" else "")
            for task, info in infos.items()
        )
        + " subwords",
        _precision_line(cfg),
    ]


def _precision_line(cfg) -> str:
    """How the run trained: bf16 or fp32, and why (``trainer.bf16_reason``, chosen by the run)."""
    trainer = cfg.get("trainer") or {}
    bf16, reason = trainer.get("bf16"), trainer.get("bf16_reason")
    name = {True: "bf16 autocast", False: "fp32"}.get(bf16, f"trainer.bf16={bf16}")
    return f"- trained in {name}" + (f" ({reason})" if reason else "")


def _usage_section(run_dir: Path) -> list[str]:
    return [
        "```python",
        "from ie import Predictor",
        "",
        f'predictor = Predictor.from_pretrained("{run_dir}")   # checks the stored schemas',
        'result = predictor("Denis Manturov met Emomali Rahmon in Dushanbe.")',
        "print(result.to_json())   # entities with character offsets and scores, relations",
        "```",
        "",
        "From the command line (JSONL, or brat files to correct as pre-annotations):",
        "",
        "```bash",
        f"python -m ie.predict run={run_dir} input=article.txt",
        f"python -m ie.predict run={run_dir} input=folder/ format=brat output=preannotated/",
        "```",
        "",
        "## Training logs",
        "",
        "- `logs/<task>_epochs.csv`: training loss, learning rate and dev metrics per epoch",
        f"- TensorBoard: `tensorboard --logdir {run_dir / 'logs' / 'tensorboard'}`",
        "- `trainer/<task>/log_history.json`: the Trainer's raw log; `train.log`",
    ]


def _limits_section(encoder: dict, metrics: dict | None) -> list[str]:
    return [
        "- The encoder is "
        + (
            'uncased: case is lost before the model sees the text ("US" and "us" look the same).'
            if encoder["lower_case"]
            else "cased."
        ),
        "- Trained on English news about Russia–Central Asia cooperation; other languages, genres and "
        "topics are out of domain.",
        "- Relations are found only between entities of the same sentence, and only for pairs whose "
        "entity types fit a relation signature; pairs further apart than the RE window are not scored.",
        "- Entities do not nest or overlap; each is one contiguous span.",
        (
            f"- The test split is {len(metrics.get('documents', []))} document(s): the figures above are "
            "indicative only."
            if metrics
            else "- No test split: the figures above, if any, are an estimate "
            "from cross-validation of the same recipe, not a test of this model."
        ),
    ]


def model_card(run_dir: str | Path) -> str:
    run_dir = Path(run_dir)
    infos = _checkpoints(run_dir)
    if not infos or not (run_dir / CONFIG_FILE).is_file():
        raise RunNotFoundError(f"{run_dir}: not a run folder (needs {CONFIG_FILE} and ner/ or re/)")
    cfg = OmegaConf.load(run_dir / CONFIG_FILE)
    schema = next(iter(infos.values())).schema
    metrics_path = run_dir / METRICS_FILE
    metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else None
    encoder = _encoder(run_dir, next(iter(infos)))
    fingerprints = {str(i.extra.get("data_fingerprint")) for i in infos.values() if i.extra.get("data_fingerprint")}
    lines = [
        f"# Model card: `{cfg.get('run_name', cfg.data.name)}` run `{run_dir.name}`",
        "",
        "Entities and relations from English news on Russia–Central Asia cooperation. "
        f"Written by `ie.card` from this folder; `python -m ie.card {run_dir}` writes it again.",
        "",
        "## What it extracts",
        "",
        *_schema_section(schema, infos),
        "",
        "## Encoder",
        "",
        *_encoder_section(cfg, infos, encoder),
        "",
        "## Training data",
        "",
        *_data_section(cfg, schema, fingerprints),
        "",
        "## Evaluation",
        "",
        *_metrics_section(metrics, run_dir, cfg),
        "",
        "## How to use it",
        "",
        *_usage_section(run_dir),
        "",
        "## Known limits",
        "",
        *_limits_section(encoder, metrics),
        "",
        "## Resolved config",
        "",
        "```yaml",
        OmegaConf.to_yaml(cfg).rstrip(),
        "```",
        "",
    ]
    return "\n".join(lines)


def write_model_card(run_dir: str | Path) -> Path:
    """Write ``RUN/README.md`` atomically."""
    return atomic.write_text(Path(run_dir) / CARD_FILE, model_card(run_dir))
