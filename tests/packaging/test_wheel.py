"""The package as users get it: `python -m build` makes a wheel and an sdist (the wheel is
built from the sdist, so the sdist is complete), `twine check` passes them, and the wheel
installed in a fresh virtualenv runs `correlator demo` from the install, not the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    # Nothing may point the fresh venv back at the checkout or the dev venv.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    return env


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=_clean_env(),
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, repo_root, cwd=out)
    return out


def test_wheel_and_sdist_pass_twine_check(dist: Path, repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    name, version = project["name"].replace("-", "_"), project["version"]
    wheel = dist / f"{name}-{version}-py3-none-any.whl"
    sdist = dist / f"{name}-{version}.tar.gz"
    assert wheel.exists() and sdist.exists(), sorted(p.name for p in dist.iterdir())
    output = _run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist, cwd=dist)
    assert output.count("PASSED") == 2
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"{name}-{version}.dist-info/METADATA").decode()
    examples = {p.name for p in (repo_root / "topology" / "examples").glob("*.yaml")}
    assert {f"topology/examples/{e}" for e in examples} <= names
    assert f"{name}-{version}.dist-info/licenses/LICENSE" in names
    assert "correlator/py.typed" in names
    assert "License-Expression: Apache-2.0" in metadata
    license_text = (repo_root / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text


def test_wheel_runs_the_demo_from_a_fresh_venv(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", wheel, cwd=tmp_path)
    where = _run(
        python, "-c", "import correlator, topology; print(correlator.__file__)", cwd=tmp_path
    )
    assert where.strip().startswith(str(env_dir)), where
    text = _run(env_dir / "bin" / "correlator", "demo", cwd=tmp_path, timeout=120)
    assert "NEW INCIDENT" in text and "Dallas - New York WAN circuit" in text
    lines = _run(env_dir / "bin" / "correlator", "demo", "--json", cwd=tmp_path, timeout=120)
    records = [orjson.loads(line) for line in lines.splitlines() if line.startswith("{")]
    assert records and all(r["schema"] == "correlator.incident/v1" for r in records)
    assert any(r["root_cause"] and r["root_cause"]["node"] == "wan-dallas-nyc" for r in records)
