"""Train NER and RE on the configured data: ``python train.py [overrides]`` (see README)."""

import logging

import hydra
from omegaconf import DictConfig

from ie.config import register

register()
log = logging.getLogger("train")


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float:
    from ie.report import format_report
    from ie.training import train

    results = train(cfg)
    log.info("\n%s", format_report(results))
    # The value Hydra sweepers optimise: strict NER micro F1 if trained, else strict RE micro F1 with
    # gold entities.
    if "ner" in results:
        return results["ner"]["strict"]["micro"]["f1"]
    return results["re"]["gold_entities"]["strict"]["micro"]["f1"]


if __name__ == "__main__":
    main()
