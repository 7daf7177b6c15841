"""deploy/: Prometheus config and alert rules pass promtool, the Alertmanager config passes
amtool and routes as documented, the Kubernetes manifests pass the Kubernetes JSON schemas,
the Helm chart hangs together, the configs they ship are valid worker configs, every alert has
a runbook section, and the dashboard and rules only use metrics that exist."""

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

from correlator.desk.metrics import DeskCollector
from correlator.desk.view import DeskView
from correlator.worker.config import load_config
from correlator.worker.http import _requests_counter
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
        "CorrelatorAbsent",
        "CorrelatorCommitFailures",
        "CorrelatorConsumerLagGrowing",
        "CorrelatorDeadLetters",
        "CorrelatorTopologyReloadFailing",
        "CorrelatorNotReady",
        "CorrelatorWebhookErrors",
    } <= names
    tested = (directory / "alerts.test.yml").read_text()
    for name in ("CorrelatorAbsent", "CorrelatorCommitFailures", "CorrelatorWebhookErrors"):
        assert f"alertname: {name}" in tested


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_kubernetes_manifests(repo_root: Path, tmp_path: Path) -> None:
    directory = repo_root / "deploy" / "kubernetes"
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    kinds: dict[str, dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for doc in _documents(directory / name):
            kinds[doc["kind"]] = doc
    assert {
        "Deployment",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
        "NetworkPolicy",
    } <= set(kinds)
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["ports"][0]["containerPort"] == 9630
    assert kinds["Service"]["spec"]["ports"][0]["port"] == 9630
    env = {e["name"]: e for e in container["env"]}
    token_ref = env["CORRELATOR_HTTP_TOKEN"]["valueFrom"]["secretKeyRef"]
    secret = _documents(directory / "secret.example.yaml")[0]
    assert token_ref == {"name": secret["metadata"]["name"], "key": "token"}
    assert "token" in secret["stringData"]
    labels = kinds["Deployment"]["spec"]["template"]["metadata"]["labels"]
    policy = kinds["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 9630}]
    pdb = kinds["PodDisruptionBudget"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
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
    assert {"redpanda", "correlator", "prometheus", "alertmanager"} <= set(services)
    env = {k: str(v) for k, v in services["correlator"]["environment"].items()}
    config = load_config(repo_root / "deploy" / "worker.yaml", env)
    # Alertmanager's token file and the worker's token are the same local example.
    token = (repo_root / "deploy" / "alertmanager" / "correlator-token").read_text().strip()
    assert config.http_token is not None and config.http_token.get_secret_value() == token
    mounts = services["alertmanager"]["volumes"]
    assert any(m.endswith(":/etc/alertmanager/secrets/correlator-token:ro") for m in mounts)
    prometheus = yaml.safe_load(
        (repo_root / "deploy" / "prometheus" / "prometheus.yml").read_text()
    )
    targets = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    dockerfile = (repo_root / "deploy" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["correlator"]' in dockerfile
    assert "EXPOSE 9630" in dockerfile


def test_dashboard_uses_only_metrics_the_worker_exports(repo_root: Path) -> None:
    dashboard = json.loads((repo_root / "deploy" / "grafana" / "dashboard.json").read_text())
    exported = set()
    # The HTTP server registers its request counter on the worker's registry when it starts.
    registry = Metrics().registry
    _requests_counter(registry)
    # So does the desk (its process metrics read the desk view).
    registry.register(DeskCollector(DeskView(), lambda: None))
    for line in generate_latest(registry).decode().splitlines():
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


AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool not installed (apt-get install prometheus-alertmanager)"
)


def _amtool(*args: str) -> str:
    assert AMTOOL is not None
    result = subprocess.run(
        [AMTOOL, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@needs_amtool
def test_alertmanager_config_routes_to_the_worker(repo_root: Path) -> None:
    config = repo_root / "deploy" / "alertmanager" / "alertmanager.yml"
    _amtool("check-config", str(config))
    file = f"--config.file={config}"
    routed = _amtool("config", "routes", "test", file, 'alertname="PostgresDown"')
    assert routed.strip() == "correlator"
    own = _amtool("config", "routes", "test", file, 'alertname="CorrelatorDown"')
    assert own.strip() == "sre-oncall"
    data = yaml.safe_load(config.read_text())
    for receiver in data["receivers"]:
        for hook in receiver["webhook_configs"]:
            assert hook["url"].endswith(":9630/webhook")
            auth = hook["http_config"]["authorization"]
            assert auth["type"] == "Bearer"
            assert auth["credentials_file"] == "/etc/alertmanager/secrets/correlator-token"
            assert "credentials" not in auth


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped."""
    anchors = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def test_every_alert_has_a_runbook_section(repo_root: Path) -> None:
    runbook = (repo_root / "docs" / "runbook.md").read_text()
    anchors = _anchors(runbook)
    rules = yaml.safe_load((repo_root / "deploy" / "prometheus" / "alerts.yml").read_text())
    for rule in rules["groups"][0]["rules"]:
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path.endswith("/docs/runbook.md"), url
        assert anchor == rule["alert"].lower() and anchor in anchors, url


@needs_promtool
def test_prometheus_rule_object_matches_the_rules_file(repo_root: Path, tmp_path: Path) -> None:
    rules = yaml.safe_load((repo_root / "deploy" / "prometheus" / "alerts.yml").read_text())
    (operator,) = _documents(repo_root / "deploy" / "kubernetes" / "prometheusrule.yaml")
    assert operator["kind"] == "PrometheusRule"
    assert operator["apiVersion"] == "monitoring.coreos.com/v1"
    assert operator["spec"]["groups"] == rules["groups"]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(operator["spec"]))
    _promtool("check", "rules", "rules.yml", cwd=tmp_path)
    chart_copy = repo_root / "deploy" / "helm" / "incident-correlator" / "files" / "alerts.yml"
    assert (
        chart_copy.read_text() == (repo_root / "deploy" / "prometheus" / "alerts.yml").read_text()
    )


def test_kubernetes_manifests_pass_the_kubernetes_schemas(repo_root: Path) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    directory = repo_root / "deploy" / "kubernetes"
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    checked = 0
    for name in [*kustomization["resources"], "secret.example.yaml"]:
        for doc in _documents(directory / name):
            kubernetes_validate.validate(doc, "1.30.0", strict=True)
            checked += 1
    assert checked >= 7
    # The check is real: a misspelt field fails it.
    (deployment,) = _documents(directory / "deployment.yaml")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30.0", strict=True)


def _values_paths(values: Any, prefix: str = "") -> set[str]:
    paths = {prefix} if prefix else set()
    if isinstance(values, dict):
        for key, value in values.items():
            paths |= _values_paths(value, f"{prefix}.{key}" if prefix else key)
    return paths


def test_helm_chart_hangs_together(repo_root: Path, tmp_path: Path) -> None:
    """No helm binary in Debian or PyPI here, so no `helm lint`: check what can be checked
    without rendering. Every value a template reads exists, every include is defined, every
    block is closed, the probes and the token come from where the plain manifests take them,
    and the default worker config is a valid one."""
    chart = repo_root / "deploy" / "helm" / "incident-correlator"
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2" and meta["name"] == "incident-correlator"
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"])
    pyproject = (repo_root / "pyproject.toml").read_text()
    assert f'version = "{meta["appVersion"]}"' in pyproject
    values = yaml.safe_load((chart / "values.yaml").read_text())
    known = _values_paths(values)
    templates = {p.name: p.read_text() for p in (chart / "templates").iterdir()}
    helpers = templates["_helpers.tpl"]
    defined = set(re.findall(r'{{-?\s*define "([^"]+)"', helpers))
    for name, text in templates.items():
        for path in re.findall(r"\.Values\.([A-Za-z0-9_.]+)", text):
            assert path in known, f"{name} reads .Values.{path}, which values.yaml lacks"
        for include in re.findall(r'include "([^"]+)"', text):
            assert include in defined, f"{name} includes undefined {include}"
        opened = len(re.findall(r"{{-?\s*(?:if|range|with|define)\b", text))
        closed = len(re.findall(r"{{-?\s*end\s*-?}}", text))
        assert opened == closed, f"{name}: {opened} blocks opened, {closed} closed"
    deployment = templates["deployment.yaml"]
    assert "path: /readyz" in deployment and "path: /livez" in deployment
    assert "name: CORRELATOR_HTTP_TOKEN" in deployment and "secretKeyRef" in deployment
    for kind in ("PodDisruptionBudget", "NetworkPolicy", "PrometheusRule", "Secret", "Service"):
        assert any(f"kind: {kind}" in text for text in templates.values()), kind
    worker = tmp_path / "worker.yaml"
    worker.write_text(yaml.safe_dump({**values["config"], "topology": "/etc/correlator/topology"}))
    assert load_config(worker, {}).http_port == 9630
