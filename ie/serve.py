"""``python -m ie.serve run=RUN``: a run's Predictor as an HTTP service (FastAPI on uvicorn).

    python -m ie.serve run=latest                                  # http://127.0.0.1:8000, OpenAPI at /docs
    python -m ie.serve run=models/seeds/<time> port=9000 precision=fp32   # default auto: bf16 where native
    curl -s localhost:8000/v1/extract -H 'content-type: application/json' -d '{"text": "..."}'

The config is ``configs/serve.yaml`` (``ie.config.ServeConfig``). SIGTERM or Ctrl-C stops accepting new
requests and answers those in flight before the process exits.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def build_app(cfg):
    """The app for a serve config: the settings and the run's Predictor checked before any port is opened."""
    from ie.inference.predictor import Predictor
    from ie.runs import resolve_run
    from ie.serving.app import Limits, create_app

    limits = Limits(
        max_chars=cfg.max_chars,
        max_texts=cfg.max_texts,
        max_body_bytes=cfg.max_body_bytes,
        max_batch_texts=cfg.max_batch_texts,
        max_wait_ms=cfg.max_wait_ms,
        predict_workers=cfg.predict_workers,
    )  # checks the batching settings before the model loads
    run_dir = resolve_run(cfg.run, cfg.paths.models_dir)
    predictor = Predictor.from_pretrained(
        run_dir,
        device=cfg.device,
        precision=cfg.precision,
        decoding=cfg.decoding,
        backend=cfg.backend,
        max_chars=cfg.max_chars,
        threads=worker_threads(cfg.threads, cfg.predict_workers),
    )
    return create_app(predictor, limits, run_dir)


def worker_threads(threads: int | None, predict_workers: int) -> int | None:
    """Cores per model call: as set, else the cores shared among the workers (two workers on one core
    each keep both busy through each other's single-threaded steps; docs/serving_load.md)."""
    from ie.inference.onnx_backend import threads as cores

    if threads is not None or predict_workers == 1:
        return threads
    return max(1, cores() // predict_workers)


def serve(cfg) -> None:
    import uvicorn

    app = build_app(cfg)
    log.info("serving %s on http://%s:%d (OpenAPI at /docs)", cfg.run, cfg.host, cfg.port)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="info", timeout_graceful_shutdown=30)


def main() -> None:
    from ie.config import run_command

    run_command("ie.serve", "serve", serve)


if __name__ == "__main__":
    main()
