"""A real Alertmanager posts its webhook straight to the worker (`POST /webhook`, no Kafka
producer in between): incidents come out with the right root cause, and clear when the alerts
are resolved."""

from __future__ import annotations

import importlib.util
import shutil
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from correlator.demo.broker import free_port
from correlator.worker.kafka.tools import TopicTail
from tests.conftest import KafkaNames
from tests.support.live import Collector, WorkerThread, wait_for, worker_settings
from tests.support.real_tools import daemon
from topology.loader import example_topology_path

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.skipif(
        ALERTMANAGER is None,
        reason="alertmanager not installed (apt-get install prometheus-alertmanager)",
    ),
]
TOKEN = "webhook-test-token"

#: Example Corp (topology/examples): the CRM database and both CRM web servers that depend on
#: it, mapped by `service` and by the nodes' `match` selectors; and the Dallas-NYC WAN circuit,
#: mapped by `topology_node`. Two incidents: root causes crm-db and wan-dallas-nyc.
ALERTS: list[dict[str, Any]] = [
    {"labels": {"alertname": "PostgresDown", "service": "crm-db", "severity": "critical"}},
    *(
        {
            "labels": {
                "alertname": "CrmWebErrors",
                "job": "crm-web",
                "instance": f"crm-web-{n}:8080",
                "severity": "warning",
            }
        }
        for n in (1, 2)
    ),
    {"labels": {"alertname": "LinkDown", "topology_node": "wan-dallas-nyc"}},
]


def _config(worker_port: int) -> str:
    return f"""
route:
  receiver: correlator
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: correlator
    webhook_configs:
      - url: http://127.0.0.1:{worker_port}/webhook
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {TOKEN}}}
"""


@pytest.fixture
def alertmanager(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[int]:
    """Alertmanager on a free loopback port, clustering off, sending to the worker's
    `/webhook` with the bearer token."""
    assert ALERTMANAGER is not None
    worker_port: int = request.getfixturevalue("worker").port
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(_config(worker_port))
    argv = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=debug",
    ]
    with daemon(argv, port, tmp_path / "alertmanager.log", "alertmanager"):
        yield port


@pytest.fixture(params=["kafka-python", "confluent"])
def worker(
    kafka_bootstrap: str, kafka_names: KafkaNames, request: pytest.FixtureRequest
) -> Iterator[WorkerThread]:
    """The worker; the HTTP input's producer is built by the configured `client`."""
    if request.param == "confluent" and importlib.util.find_spec("confluent_kafka") is None:
        pytest.skip("confluent-kafka not installed (pip install confluent-kafka)")
    settings = worker_settings(
        kafka_bootstrap,
        kafka_names,
        example_topology_path(),
        client=request.param,
        http_token=TOKEN,
        # Idle ticks at 60x: the 5-minute hold-down after the resolve passes in 5 s.
        tick_interval="1s",
        idle_clock_rate=60,
    )
    thread = WorkerThread(settings).start()
    try:
        thread.wait_ready()
        yield thread
    finally:
        assert thread.stop() == 0


def _post_alerts(port: int, alerts: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/alerts",
        data=orjson.dumps(alerts),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_alertmanager_feeds_the_worker_over_http(
    worker: WorkerThread, alertmanager: int, kafka_bootstrap: str, kafka_names: KafkaNames
) -> None:
    started = time.monotonic()
    collector = Collector(kafka_bootstrap, kafka_names.incidents)
    try:
        starts = _rfc3339(datetime.now(UTC))
        _post_alerts(alertmanager, [{**a, "startsAt": starts} for a in ALERTS])

        def by_root() -> dict[str | None, Any]:
            return {r.root_cause.node: r for r in collector.final().values() if r.root_cause}

        def opened() -> bool:
            roots = by_root()
            return set(roots) == {"crm-db", "wan-dallas-nyc"} and len(roots["crm-db"].alerts) == 3

        wait_for(opened, 20, "incidents for crm-db and wan-dallas-nyc")
        crm = by_root()["crm-db"]
        assert crm.status == "open"
        assert {a.node for a in crm.alerts} == {"crm-db", "crm-web-1", "crm-web-2"}
        assert by_root()["wan-dallas-nyc"].assignment_group == "network-ops"

        # Resolve them all: Alertmanager sends the resolved notifications.
        ends = _rfc3339(datetime.now(UTC))
        _post_alerts(alertmanager, [{**a, "startsAt": starts, "endsAt": ends} for a in ALERTS])

        def cleared() -> bool:
            finals = collector.final().values()
            return len(finals) == 2 and all(
                r.status == "resolved" and all(a.status == "resolved" for a in r.alerts)
                for r in finals
            )

        wait_for(cleared, 25, "the incidents to resolve")
    finally:
        collector.close()

    # It all came through the HTTP input: accepted requests, nothing refused or dead-lettered.
    registry = worker.worker.metrics.registry
    requests = registry.get_sample_value(
        "correlator_http_requests_total", {"path": "/webhook", "code": "200"}
    )
    assert requests is not None and requests >= 4  # 3 groups firing, then resolved
    for refused in ("400", "401", "503"):
        labels = {"path": "/webhook", "code": refused}
        assert registry.get_sample_value("correlator_http_requests_total", labels) is None
    with TopicTail(kafka_bootstrap, kafka_names.alerts) as tail:
        inputs = tail.poll(2.0)
    assert inputs and all(m.key and m.key.startswith(b"{}:{alertname=") for m in inputs)
    assert all(orjson.loads(m.value or b"")["receiver"] == "correlator" for m in inputs)
    took = time.monotonic() - started
    print(f"alertmanager -> worker -> incidents, fired and cleared in {took:.1f}s")
