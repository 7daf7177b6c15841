"""deploy/: Prometheus config and alert rules pass promtool, the manifests hang together, the
configs they ship are valid worker configs, and the dashboard only uses metrics that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from correlator.worker.config import load_config
from correlator.worker.metrics import Metrics

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)"
)


def _promtool(*args: str, cwd: Path) -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


@needs_promtool
def test_prometheus_config_is_valid(repo_root: Path) -> None:
    _promtool("check", "config", "prometheus.yml", cwd=repo_root / "deploy" / "prometheus")


@needs_promtool
def test_alert_rules_are_valid_and_fire_as_tested(repo_root: Path) -> None:
    directory = repo_root / "deploy" / "prometheus"
    _promtool("check", "rules", "alerts.yml", cwd=directory)
    _promtool("test", "rules", "alerts.test.yml", cwd=directory)
    rules = yaml.safe_load((directory / "alerts.yml").read_text())["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    assert {
        "CorrelatorConsumerLagGrowing",
        "CorrelatorDeadLetters",
        "CorrelatorTopologyReloadFailing",
        "CorrelatorNotReady",
    } <= names


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_kubernetes_manifests(repo_root: Path, tmp_path: Path) -> None:
    directory = repo_root / "deploy" / "kubernetes"
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    kinds: dict[str, dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for doc in _documents(directory / name):
            kinds[doc["kind"]] = doc
    assert {"Deployment", "Service", "ConfigMap"} <= set(kinds)
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["ports"][0]["containerPort"] == 9630
    assert kinds["Service"]["spec"]["ports"][0]["port"] == 9630
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    config_text = kinds["ConfigMap"]["data"]["worker.yaml"]
    config_file = tmp_path / "worker.yaml"
    config_file.write_text(config_text)
    config = load_config(config_file, {})
    assert config.topology in mounts
    assert config.http_port == 9630
    # The topology ConfigMap is a copy of the example organisation: keep them identical.
    generated = kustomization["configMapGenerator"][0]["files"]
    examples = sorted((repo_root / "topology" / "examples").glob("*.yaml"))
    assert [Path(f).name for f in generated] == [p.name for p in examples]
    for example in examples:
        assert (directory / "topology" / example.name).read_text() == example.read_text()


def test_shipped_worker_config_and_compose_file(repo_root: Path) -> None:
    config = load_config(repo_root / "deploy" / "worker.yaml", {})
    assert config.http_port == 9630
    compose = yaml.safe_load((repo_root / "deploy" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redpanda", "correlator", "prometheus"} <= set(services)
    env = {k: str(v) for k, v in services["correlator"]["environment"].items()}
    load_config(repo_root / "deploy" / "worker.yaml", env)
    dockerfile = (repo_root / "deploy" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["correlator"]' in dockerfile
    assert "EXPOSE 9630" in dockerfile


def test_dashboard_uses_only_metrics_the_worker_exports(repo_root: Path) -> None:
    dashboard = json.loads((repo_root / "deploy" / "grafana" / "dashboard.json").read_text())
    exported = set()
    text = generate_latest(Metrics().registry).decode()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            exported.add(name)
            if kind == "histogram":
                exported.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
            if kind == "counter":
                exported.add(f"{name}_total")
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert exprs
    used = {m for expr in exprs for m in re.findall(r"\b(correlator_[a-z_]+)", expr)}
    assert used and used <= exported, used - exported
    rules = (repo_root / "deploy" / "prometheus" / "alerts.yml").read_text()
    in_rules = set(re.findall(r"\b(correlator_[a-z_]+)", rules))
    assert in_rules <= exported, in_rules - exported
