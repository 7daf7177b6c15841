"""End to end with the real tools: a real Prometheus scrapes small exporters and evaluates real
alerting rules, a real Alertmanager posts to the worker's `/webhook`, and a consumer reads the
worker's CloudEvents output with confluent-kafka and the CloudEvents SDK. Stopping the database's
exporter and one dependent's gives an incident whose root cause is the database; starting them
again gives its resolution."""

from __future__ import annotations

import importlib.util
import shutil
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from correlator.core.model import IncidentRecord
from correlator.demo.broker import free_port
from tests.conftest import KafkaNames
from tests.support.live import WorkerThread, http_get, wait_for, worker_settings
from tests.support.real_tools import CloudEventsReader, Exporter, daemon
from tests.support.scenario import SCENARIO_BOUNDS

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None, reason="prometheus not installed (apt-get install prometheus)"
    ),
    pytest.mark.skipif(
        ALERTMANAGER is None,
        reason="alertmanager not installed (apt-get install prometheus-alertmanager)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("confluent_kafka") is None
        or importlib.util.find_spec("cloudevents") is None,
        reason="the consumer needs confluent-kafka and cloudevents (pip install -e '.[dev]')",
    ),
]
TOKEN = "e2e-webhook-token"

#: A database two services depend on, and a web host on its own. Each node has an exporter.
ORG = """
sites:
  - {id: dc, name: Data centre}
teams:
  - {id: dba, name: Databases, contact: dba@example.com}
  - {id: app, name: Applications, contact: app@example.com}
nodes:
  - {id: orders-db, kind: database, name: Orders database, owner: dba, site: dc}
  - {id: orders-api, kind: service, name: Orders API, owner: app, site: dc,
     depends_on: [orders-db]}
  - {id: billing-api, kind: service, name: Billing API, owner: app, site: dc,
     depends_on: [orders-db]}
  - {id: web-1, kind: host, name: Web host, owner: app, site: dc}
  - {id: staff, kind: user_group, name: Staff, site: dc, users: 40,
     depends_on: [orders-api, billing-api]}
"""
NODES = ("orders-db", "orders-api", "billing-api", "web-1")
DOWN = ("orders-db", "orders-api")  # the database and one of its dependents

#: The alert carries the target's `topology_node` label (set on the scrape target), which maps
#: it onto the node without any guessing from `instance`.
RULES = {
    "groups": [
        {
            "name": "targets",
            "interval": "1s",
            "rules": [
                {
                    "alert": "TargetDown",
                    "expr": 'up{job="nodes"} == 0',
                    "for": "0s",
                    "labels": {"severity": "critical"},
                    "annotations": {"summary": "{{ $labels.topology_node }} stopped answering"},
                }
            ],
        }
    ]
}


def _prometheus_config(exporters: dict[str, Exporter], alertmanager: int) -> dict[str, object]:
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "nodes",
                "static_configs": [
                    {"targets": [e.target], "labels": {"topology_node": node}}
                    for node, e in exporters.items()
                ],
            }
        ],
    }


def _alertmanager_config(worker_port: int) -> dict[str, object]:
    return {
        "global": {"resolve_timeout": "10s"},
        "route": {
            "receiver": "correlator",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "correlator",
                "webhook_configs": [
                    {
                        "url": f"http://127.0.0.1:{worker_port}/webhook",
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
                    }
                ],
            }
        ],
    }


@pytest.fixture
def exporters() -> Iterator[dict[str, Exporter]]:
    running = {node: Exporter(node).start() for node in NODES}
    try:
        yield running
    finally:
        for exporter in running.values():
            exporter.stop()


@pytest.fixture
def worker(kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path) -> Iterator[WorkerThread]:
    org = tmp_path / "org.yaml"
    org.write_text(ORG)
    settings = worker_settings(
        kafka_bootstrap,
        kafka_names,
        org,
        http_token=TOKEN,
        outputs=[{"topic": f"{kafka_names.prefix}-cloudevents", "format": "cloudevents"}],
        # Wall time throughout: ticks every second carry the 5 s hold-down to the resolution.
        tick_interval="1s",
        engine={"lifecycle": {"hold_down": "5s"}, "update_interval": "0s"},
    )
    assert settings["engine"]["bounds"] == SCENARIO_BOUNDS  # merged, not replaced
    thread = WorkerThread(settings).start()
    try:
        thread.wait_ready()
        yield thread
    finally:
        assert thread.stop() == 0


@pytest.fixture
def alertmanager(worker: WorkerThread, tmp_path: Path) -> Iterator[int]:
    assert ALERTMANAGER is not None
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(_alertmanager_config(worker.port)))
    argv = [
        ALERTMANAGER,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with daemon(argv, port, tmp_path / "alertmanager.log", "alertmanager"):
        yield port


@pytest.fixture
def prometheus(exporters: dict[str, Exporter], alertmanager: int, tmp_path: Path) -> Iterator[int]:
    assert PROMETHEUS is not None
    port = free_port()
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(RULES))
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(_prometheus_config(exporters, alertmanager)))
    argv = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        # Re-send firing alerts every second, so one lost early send costs a second, not a minute.
        "--rules.alert.resend-delay=1s",
    ]
    with daemon(argv, port, tmp_path / "prometheus.log", "prometheus"):
        yield port


def _up(prometheus: int) -> dict[str, str]:
    """`up` per topology node, as Prometheus last scraped it."""
    query = urllib.parse.quote('up{job="nodes"}')
    code, body = http_get(prometheus, f"/api/v1/query?query={query}")
    if code != 200:
        return {}
    results = orjson.loads(body)["data"]["result"]
    return {r["metric"]["topology_node"]: r["value"][1] for r in results}


def _latest(reader: CloudEventsReader) -> dict[str, tuple[str, IncidentRecord]]:
    """Each incident's latest version read from the CloudEvents topic, with its event type."""
    latest: dict[str, tuple[str, IncidentRecord]] = {}
    for event in reader.poll():
        data = event.get_data()
        assert isinstance(data, dict)
        record = IncidentRecord.model_validate(data)
        assert event.get_subject() == record.id
        if record.id not in latest or record.version > latest[record.id][1].version:
            latest[record.id] = (event.get_type(), record)
    return latest


def _live(reader: CloudEventsReader) -> list[tuple[str, IncidentRecord]]:
    # Two alerts arriving a scrape apart may open two incidents that then merge: count the
    # survivor only.
    return [(t, r) for t, r in _latest(reader).values() if r.status != "merged"]


def test_prometheus_alerts_reach_a_cloudevents_consumer(
    worker: WorkerThread,
    exporters: dict[str, Exporter],
    prometheus: int,
    kafka_bootstrap: str,
    kafka_names: KafkaNames,
) -> None:
    started = time.monotonic()
    wait_for(lambda: _up(prometheus) == dict.fromkeys(NODES, "1"), 20, "every target up")
    reader = CloudEventsReader(kafka_bootstrap, f"{kafka_names.prefix}-cloudevents")
    try:
        for node in DOWN:
            exporters[node].stop()

        def opened() -> bool:
            live = _live(reader)
            if len(live) != 1:
                return False
            record = live[0][1]
            return (
                record.root_cause is not None
                and record.root_cause.node == "orders-db"
                and {a.node for a in record.alerts if a.status == "firing"} == set(DOWN)
            )

        wait_for(opened, 30, "an incident rooted at orders-db with both alerts", interval=0.1)
        opened_at = time.monotonic()
        ((kind, record),) = _live(reader)
        assert kind in {
            "io.incident-correlator.incident.opened",
            "io.incident-correlator.incident.updated",
        }
        assert record.status == "open"
        assert {a.labels.get("alertname") for a in record.alerts} == {"TargetDown"}
        first = next(e for e in reader.events if e.get_subject() == record.id)
        assert first.get_type() == "io.incident-correlator.incident.opened"
        assert first.get_source() == "/incident-correlator"
        # Nothing about the nodes that kept answering.
        assert all(n in DOWN for _, r in _live(reader) for n in {a.node for a in r.alerts})

        for node in DOWN:
            exporters[node].start()

        def resolved() -> bool:
            live = _live(reader)
            return len(live) == 1 and live[0][1].status == "resolved"

        wait_for(resolved, 30, "the incident's resolution", interval=0.1)
        ((kind, final),) = _live(reader)
        assert kind == "io.incident-correlator.incident.resolved"
        assert final.id == record.id
        assert final.root_cause is not None and final.root_cause.node == "orders-db"
        assert all(a.status == "resolved" for a in final.alerts)
    finally:
        reader.close()

    # The alerts came in over HTTP from Alertmanager, authenticated; none was refused.
    registry = worker.worker.metrics.registry
    accepted = registry.get_sample_value(
        "correlator_http_requests_total", {"path": "/webhook", "code": "200"}
    )
    assert accepted is not None and accepted >= 2  # at least firing, then resolved
    for refused in ("400", "401", "503"):
        labels = {"path": "/webhook", "code": refused}
        assert registry.get_sample_value("correlator_http_requests_total", labels) is None
    now = time.monotonic()
    print(
        f"prometheus -> alertmanager -> worker -> cloudevents: opened {opened_at - started:.1f}s,"
        f" resolved {now - opened_at:.1f}s later"
    )
