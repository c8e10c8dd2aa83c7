"""Lint and format: CI, the README and pre-commit run one ruff, configured once in pyproject.toml."""

from __future__ import annotations

import re

import tomllib
import yaml
from packaging.requirements import Requirement

from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _dev_pin(name: str) -> Requirement:
    [pin] = [
        Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"] if Requirement(r).name == name
    ]
    return pin


def test_pre_commit_runs_the_ruff_that_ci_installs():
    hooks = [
        hook
        for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
        for hook in repo["hooks"]
    ]
    assert {hook["id"] for hook in hooks} == {"ruff-check", "ruff-format"}
    pin = _dev_pin("ruff")
    assert str(pin.specifier).startswith("==")  # one version: a newer ruff may flag or format what this one passed
    for hook in hooks:
        assert [Requirement(r) for r in hook["additional_dependencies"]] == [pin], hook["id"]


def test_ci_runs_the_readmes_command_with_lint_before_the_tests():
    readme = (ROOT / "README.md").read_text()
    [command] = [line for line in re.findall(r"^bash scripts/setup.sh && .*$", readme, flags=re.M) if "pytest" in line]
    assert command.index("ruff check .") < command.index("ruff format --check .") < command.index("pytest")
    ci = " ".join((ROOT / ".ci" / "run").read_text().replace("\\\n", " ").split())
    assert (
        " ".join(
            command.replace(
                "&& .venv/bin/python -m pytest", "&& IE_REQUIRE_BROWSER=1 .venv/bin/python -m pytest"
            ).split()
        )
        in ci
    )
    assert PYPROJECT["tool"]["ruff"]["line-length"] == 120
