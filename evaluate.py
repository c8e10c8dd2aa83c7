"""Score a trained run: ``python evaluate.py run=models/<run>|latest [split=test]`` (see README)."""

import logging

import hydra
from omegaconf import DictConfig

from ie.config import register

register()
log = logging.getLogger("evaluate")


@hydra.main(version_base="1.3", config_path="configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from pathlib import Path

    from ie.evaluation import evaluate_run, format_report, resolve_run, write_json

    run_dir = resolve_run(cfg.run, cfg.paths.models_dir)
    results = evaluate_run(run_dir, split=cfg.split, batch_size=cfg.batch_size, precision=cfg.precision,
                           device=cfg.device)
    output = Path(cfg.output) if cfg.output else run_dir / f"eval_{cfg.split}.json"
    write_json(results, output)
    print(format_report(results))
    print(f"\nwritten: {output}")


if __name__ == "__main__":
    main()
