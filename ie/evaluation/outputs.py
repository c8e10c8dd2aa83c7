"""The files of one evaluation: results as JSON, the Markdown report beside it, confusion-matrix PNGs
and the HTML page of the documents."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ie import atomic
from ie.data.schema import Schema
from ie.evaluation.html_report import write_html_report
from ie.evaluation.plots import confusion_heatmap
from ie.evaluation.predictions import read_predictions
from ie.evaluation.report import markdown_report
from ie.runs import TASKS, predictions_path

log = logging.getLogger(__name__)


def write_json(results: dict, path: str | Path) -> Path:
    return atomic.write_text(path, json.dumps(results, indent=2) + "\n")


def write_evaluation(results: dict, json_path: str | Path) -> list[Path]:
    """``results`` as JSON, the Markdown report beside it (same stem), confusion-matrix PNGs and the HTML
    page of the documents (see :mod:`ie.evaluation.html_report`)."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    written = [write_json(results, json_path)]
    stem, errors, images = json_path.stem, results.get("errors", {}), []
    if "entities" in errors:
        name = f"{stem}_confusion_entities.png"
        confusion_heatmap(
            errors["entities"]["confusion"]["exact_span"], "Entity types, exact spans", json_path.parent / name
        )
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
    for task in TASKS:
        if (run_dir / task / "schema.json").is_file():
            return Schema.load(run_dir / task / "schema.json")
    return None
