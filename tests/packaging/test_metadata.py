"""Packaging metadata that needs no build: licence, changelog, and constraints covering every
dependency CI installs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_constraints_pin_every_dependency(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    pins = {}
    for line in (repo_root / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[name.lower().replace("_", "-").replace(".", "-")] = version
    missing = {n for n in wanted if n.replace(".", "-") not in pins}
    assert not missing, f"constraints.txt lacks {sorted(missing)}"
    ci = (repo_root / ".ci" / "run").read_text()
    assert "-c constraints.txt" in ci


def test_license_and_changelog(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (repo_root / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License")
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    changelog = (repo_root / "CHANGELOG.md").read_text()
    assert f"## [{project['version']}]" in changelog or "## [Unreleased]" in changelog
