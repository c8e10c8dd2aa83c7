from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from ie.config import register
from ie.schema import Schema

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


def compose_config(name: str, overrides: list[str]):
    register()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        return compose(name, overrides=overrides)


@pytest.fixture(scope="session")
def schema() -> Schema:
    return Schema.load(SEEDS / "schema.json")


@pytest.fixture
def write_pair(tmp_path):
    """Write NAME.txt / NAME.ann into tmp_path and return the .txt path."""
    def write(name: str, text: str, ann: str) -> Path:
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")
        (tmp_path / f"{name}.ann").write_text(ann, encoding="utf-8")
        return tmp_path / f"{name}.txt"
    return write
