"""``python -m ie.export run=RUN [quantize=int8]``: a run's checkpoints as ONNX graphs, for
``backend=onnx`` (ONNX Runtime, no torch needed to serve them).

    python -m ie.export run=latest                      # RUN/onnx/: fp32 graphs, manifest with hashes and timings
    python -m ie.export run=models/seeds/<time> quantize=int8     # + int8 (dynamic; calibration=train: static)
    python -m ie.export run=latest fuse=false           # the exporter's primitive ops (default: fused, onnx_fusion)
    python -m ie.predict run=latest backend=onnx precision=int8 input=article.txt

The config is ``configs/export.yaml`` (``ie.config.ExportConfig``); how it works: :mod:`ie.inference.onnx_export`.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def export(cfg) -> dict:
    """Export the run named by the config; returns the manifest."""
    from ie.errors import require_extra

    require_extra("export")  # before a model loads or a file is written
    from ie.inference.onnx_export import export_run
    from ie.runs import resolve_run

    run_dir = resolve_run(cfg.run, cfg.paths.models_dir)
    manifest = export_run(
        run_dir,
        quantize=cfg.quantize,
        opset=cfg.opset,
        measure=cfg.measure,
        calibration=cfg.calibration,
        calibration_sentences=cfg.calibration_sentences,
        fuse=cfg.fuse,
    )
    for task, entry in manifest["tasks"].items():
        for precision, graph in entry["graphs"].items():
            log.info(
                "%s %s: %s/onnx/%s/%s (%.1f MB, max |logit - torch| %.2g)",
                task,
                precision,
                run_dir,
                task,
                graph["file"],
                graph["bytes"] / 1e6,
                graph["max_abs_logit_diff"],
            )
            if graph.get("fused_ops"):
                log.info(
                    "%s %s: fused ops %s", task, precision, ", ".join(f"{n} {k}" for k, n in graph["fused_ops"].items())
                )
    if manifest["int8"]:
        log.info(
            "int8: %s%s",
            manifest["int8"]["method"],
            ""
            if "calibration" not in manifest["int8"]
            else " ({sentences} of the {split} split's {of} sentences)".format(**manifest["int8"]["calibration"]),
        )
    if "timings" in manifest:
        log.info("ms per document on this CPU: %s", manifest["timings"]["ms_per_doc"])
    return manifest


def main() -> None:
    from ie.config import run_command

    run_command("ie.export", "export", export)


if __name__ == "__main__":
    main()
