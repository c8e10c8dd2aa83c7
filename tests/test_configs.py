from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from tests.conftest import ROOT, compose_config

EXPERIMENTS = sorted(p.stem for p in (ROOT / "configs" / "experiment").glob("*.yaml"))


def test_default_config_trains_both_tasks_on_the_seeds_with_the_packaged_encoder():
    cfg = compose_config("train", ["paths.output_dir=/tmp/x"])
    assert list(cfg.task.names) == ["ner", "re"]
    assert cfg.data.name == "seeds" and Path(cfg.data.path) == ROOT / "seeds"
    assert (Path(cfg.model.name_or_path) / "config.json").exists()
    assert cfg.model.from_scratch is False
    OmegaConf.resolve(cfg)  # every interpolation resolves outside a Hydra run too


def test_the_paths_defaults_of_the_schema_and_of_configs_paths_agree():
    from ie.config import PathsConfig

    yaml = OmegaConf.load(ROOT / "configs" / "paths" / "default.yaml")
    schema = OmegaConf.structured(PathsConfig)
    for key in ("root", "models_dir", "conll04"):
        assert OmegaConf.to_container(yaml)[key] == OmegaConf.to_container(schema)[key], key


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(experiment):
    cfg = compose_config("train", [f"experiment={experiment}", "paths.output_dir=/tmp/x"])
    OmegaConf.resolve(cfg)
    assert cfg.task.names


@pytest.mark.parametrize("task, names", [("ner", ["ner"]), ("re", ["re"]), ("all", ["ner", "re"])])
def test_task_group_selects_what_to_train(task, names):
    assert list(compose_config("train", [f"task={task}", "paths.output_dir=/tmp/x"]).task.names) == names


@pytest.mark.parametrize(
    "override, key",
    [
        ("trainer.ner.learning_rat=1e-4", "learning_rat"),
        ("data.split.test=[a]", "split"),
        ("model.name_or_pth=bert-base-cased", "name_or_pth"),
    ],
)
def test_misspelt_key_fails_at_compose_time_naming_the_key(override, key):
    with pytest.raises(ConfigCompositionException) as err:
        compose_config("train", [override])
    assert key in str(err.value) or key in str(err.value.__cause__)


def test_wrong_type_fails_at_compose_time():
    with pytest.raises(ConfigCompositionException) as err:
        compose_config("train", ["trainer.ner.batch_size=large"])
    assert "batch_size" in str(err.value) + str(err.value.__cause__)


def test_evaluate_config_needs_a_run():
    cfg = compose_config("evaluate", ["run=models/x"])
    assert cfg.split == "test" and cfg.run == "models/x"


@pytest.mark.parametrize("launcher, target", [("parallel", "JoblibLauncher"), ("slurm", "SlurmLauncher")])
def test_sweep_launchers_compose(launcher, target):
    from hydra import compose, initialize_config_dir

    from ie.config import register

    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(
            "train", overrides=[f"hydra/launcher={launcher}", "paths.output_dir=/tmp/x"], return_hydra_config=True
        )
    assert cfg.hydra.launcher._target_.endswith(target)
    if launcher == "parallel":
        assert cfg.hydra.launcher.n_jobs == 2


def test_run_folder_is_the_resumed_run_or_a_new_time_stamp():
    from ie.config import _hydra_subdir, _run_folder

    assert _run_folder("models/seeds/2026-01-01_00-00-00", "models/seeds") == "models/seeds/2026-01-01_00-00-00"
    assert _run_folder(None, "models/seeds").startswith("models/seeds/20")
    assert _hydra_subdir(None) == ".hydra" and _hydra_subdir("models/x").startswith(".hydra/resumed_")


def test_the_hyperparameter_search_composes_and_scores_dev_not_test():
    from hydra import compose, initialize_config_dir

    from ie.config import register

    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(
            "train", overrides=["hparams_search=conll04_optuna", "paths.output_dir=/tmp/x"], return_hydra_config=True
        )
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper") and cfg.hydra.sweeper.direction == "maximize"
    assert cfg.data.name == "conll04" and cfg.evaluate_split == "dev" and "dev" in cfg.data.splits
    assert set(cfg.hydra.sweeper.params) >= {"trainer.ner.learning_rate", "trainer.re.learning_rate"}


def test_the_seeds_search_scores_inner_folds_of_one_outer_fold():
    from hydra import compose, initialize_config_dir

    from ie.config import register

    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["hparams_search=seeds_optuna", "data.fold=3", "paths.output_dir=/tmp/x"],
            return_hydra_config=True,
        )
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper") and cfg.hydra.sweeper.direction == "maximize"
    assert cfg.inner_cv and cfg.data.folds == 5 and cfg.data.inner_fold is None and cfg.task.names == ["ner"]
    assert cfg.hydra.sweeper.study_name == "seeds_fold3" and "/hparams_seeds_fold3_" in cfg.hydra.sweep.dir
    assert set(cfg.hydra.sweeper.params) == {
        "trainer.ner.learning_rate",
        "trainer.ner.epochs",
        "trainer.ner.batch_size",
    }
