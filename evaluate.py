"""Score a run or compare runs (see README "Evaluation"):

    python evaluate.py run=models/<run>|latest [split=test]
    python evaluate.py 'compare=[models/<runA>,models/<runB>]'   # or a multirun / cross-validation folder
"""

import logging

import hydra
from omegaconf import DictConfig

from ie.config import register

register()
log = logging.getLogger("evaluate")


@hydra.main(version_base="1.3", config_path="configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from datetime import datetime
    from pathlib import Path

    from ie.compare import compare_runs, write_comparison
    from ie.evaluation import evaluate_run, resolve_run, write_evaluation
    from ie.report import format_comparison, format_report

    if (cfg.run is None) == (cfg.compare is None):
        raise SystemExit("evaluate.py: give exactly one of run=<run folder|latest> or compare=[<runs or folders>]")
    if cfg.compare is not None:
        result = compare_runs(list(cfg.compare), split=cfg.split, baseline=cfg.baseline,
                              samples=cfg.bootstrap_samples, seed=cfg.bootstrap_seed, batch_size=cfg.batch_size)
        stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        out = Path(cfg.output_dir or Path(cfg.paths.models_dir) / "compare" / stamp)
        written = write_comparison(result, out)
        print(format_comparison(result))
    else:
        run_dir = resolve_run(cfg.run, cfg.paths.models_dir)
        result = evaluate_run(run_dir, split=cfg.split, batch_size=cfg.batch_size, precision=cfg.precision,
                              device=cfg.device, decoding=cfg.decoding, backend=cfg.backend)
        written = write_evaluation(result, cfg.output or run_dir / f"eval_{cfg.split}.json")
        print(format_report(result))
    print("\nwritten:\n" + "\n".join(f"  {p}" for p in (written.values() if isinstance(written, dict) else written)))


if __name__ == "__main__":
    main()
