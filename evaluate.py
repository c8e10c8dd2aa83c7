"""Score a run or compare runs (see docs/evaluation.md):

python evaluate.py run=models/<run>|latest [split=test]
python evaluate.py 'compare=[models/<runA>,models/<runB>]'   # or a multirun / cross-validation folder
python evaluate.py 'learning_curve=[models/multirun/<seeds sweep>,models/multirun/<conll04 sweep>]'
"""

import logging

import hydra
from omegaconf import DictConfig

from ie.config import register
from ie.errors import ConfigError, reported

register()
log = logging.getLogger("evaluate")


@hydra.main(version_base="1.3", config_path="configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with reported("evaluate.py"):
        if cfg.learning_curve is not None:
            written = learning_curve(cfg)
        else:
            written = compare(cfg) if cfg.compare is not None else evaluate(cfg)
    print("\nwritten:\n" + "\n".join(f"  {p}" for p in written))


def predict_options(cfg: DictConfig) -> dict:
    """How a run is predicted, in every mode: run=, and the runs of compare= or learning_curve= that have
    no predictions of the split yet."""
    return {
        "precision": cfg.precision,
        "device": cfg.device,
        "decoding": cfg.decoding,
        "backend": cfg.backend,
        "threads": cfg.threads,
    }


def evaluate(cfg: DictConfig) -> list:
    from ie.evaluation.outputs import write_evaluation
    from ie.evaluation.report import format_report
    from ie.evaluation.scoring import evaluate_run
    from ie.runs import resolve_run

    if cfg.run is None:
        raise ConfigError("give exactly one of run=<run folder|latest> or compare=[<runs or folders>]")
    run_dir = resolve_run(cfg.run, cfg.paths.models_dir)
    result = evaluate_run(run_dir, split=cfg.split, batch_size=cfg.batch_size, **predict_options(cfg))
    written = write_evaluation(result, cfg.output or run_dir / f"eval_{cfg.split}.json")
    print(format_report(result))
    return written


def compare(cfg: DictConfig) -> list:
    from datetime import datetime
    from pathlib import Path

    from ie.evaluation.compare import compare_runs, write_comparison
    from ie.evaluation.compare_report import format_comparison

    if cfg.run is not None:
        raise ConfigError("give exactly one of run=<run folder|latest> or compare=[<runs or folders>]")
    result = compare_runs(
        list(cfg.compare),
        split=cfg.split,
        baseline=cfg.baseline,
        samples=cfg.bootstrap_samples,
        seed=cfg.bootstrap_seed,
        batch_size=cfg.batch_size,
        group_by=cfg.group_by,
        predict=predict_options(cfg),
    )
    out = Path(cfg.output_dir or Path(cfg.paths.models_dir) / "compare" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S"))
    written = write_comparison(result, out)
    print(format_comparison(result))
    return list(written.values())


def learning_curve(cfg: DictConfig) -> list:
    from datetime import datetime
    from pathlib import Path

    from ie.evaluation.learning_curve import learning_curve as curve
    from ie.evaluation.learning_curve import markdown, write_learning_curve

    if cfg.run is not None or cfg.compare is not None:
        raise ConfigError("give one of run=..., compare=[...] or learning_curve=[...]")
    result = curve(list(cfg.learning_curve), split=cfg.split, batch_size=cfg.batch_size, predict=predict_options(cfg))
    out = Path(
        cfg.output_dir or Path(cfg.paths.models_dir) / "learning_curve" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    )
    written = write_learning_curve(result, out)
    print(markdown(result))
    return written


if __name__ == "__main__":
    main()
