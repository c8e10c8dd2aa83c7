"""Train NER and RE on the configured data: ``python train.py [overrides]`` (see docs/training.md).

Also under ``torchrun --nproc_per_node=N train.py ...`` (data-parallel, gloo on CPU), in sweeps
(``-m``, any Hydra launcher) and resumed (``resume=RUN``).
"""

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ie.config import register
from ie.errors import ConfigError, exit_if_plugins_missing, reported

register()
log = logging.getLogger("train")


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    register()  # again: launchers such as joblib run this function in fresh worker processes
    with reported("train.py"):
        return run(cfg)


def run(cfg: DictConfig) -> float | None:
    """Train, print the scores and return the value a Hydra sweeper optimises."""
    from ie import distributed
    from ie.evaluation.report import format_report
    from ie.training.train import objective, train

    if not distributed.is_main():  # the other processes train in step with rank 0; one log is enough
        logging.getLogger().setLevel(logging.WARNING)
    others = [o for o in HydraConfig.get().overrides.task if not o.startswith("resume=")]
    if cfg.resume and others:
        raise ConfigError(
            f"resume={cfg.resume} continues that run with its saved config.yaml; drop the other overrides {others}"
        )
    if cfg.pretrain is not None and any(o.lstrip("+~").startswith(("pretrain=", "pretrain.")) for o in others):
        cfg.pretrain.required = True  # asked for on the command line: missing data is an error, not a skip
    if cfg.inner_cv:
        from ie.training.inner_cv import train_inner_folds

        score = train_inner_folds(cfg, train)
        log.info(
            "inner folds of outer fold %d: pooled F1 %.4f (per fold %s)",
            cfg.data.fold,
            score["f1"],
            ", ".join(f"{f:.4f}" for f in score["folds"]),
        )
        return score["f1"]
    results = train(cfg)
    if not results:
        return None
    log.info("\n%s", format_report(results))
    return objective(results)["f1"]


if __name__ == "__main__":
    exit_if_plugins_missing("train.py", sys.argv[1:])  # a launcher or sweeper of an extra that is not installed
    main()
