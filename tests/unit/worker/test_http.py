"""/metrics, /livez and /readyz on one port."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import orjson
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from correlator.worker.http import Health, HealthServer, HttpLimits, HttpService
from correlator.worker.metrics import EngineSnapshot, LagSnapshot, Metrics
from correlator.worker.ports import TP


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_endpoints() -> None:
    metrics = Metrics()
    health = Health(liveness_timeout=30)
    server = HealthServer(metrics.registry, health, "127.0.0.1", 0).start()
    try:
        code, body = _get(server.port, "/readyz")
        assert code == 503
        assert orjson.loads(body)["checks"]["topology_loaded"] is False
        health.topology_loaded = health.joined = True
        assert _get(server.port, "/readyz")[0] == 200
        health.restoring = frozenset({3})
        code, body = _get(server.port, "/readyz")
        assert code == 503 and orjson.loads(body)["restoring_partitions"] == [3]
        assert _get(server.port, "/livez")[0] == 200
        health.liveness_timeout = -1
        assert _get(server.port, "/livez")[0] == 503
        assert _get(server.port, "/nope")[0] == 404
        code, body = _get(server.port, "/metrics")
        assert code == 200 and b"correlator_build_info" in body
    finally:
        server.close()


def test_metric_names_follow_conventions_and_carry_no_per_incident_labels() -> None:
    metrics = Metrics()
    metrics.publish_engine(
        EngineSnapshot(
            active_alerts=3,
            open_incidents_by_priority={1: 2},
            open_incidents_by_group={"dba": 1},
            people_affected=120,
            engines=2,
        )
    )
    metrics.publish_lag(LagSnapshot({TP("alerts", 0): (10, 15), TP("alerts", 1): (3, None)}))
    metrics.dead_letters.labels(reason="not_json").inc()
    text = generate_latest(metrics.registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    allowed_labels = {
        "format",
        "outcome",
        "reason",
        "status",
        "priority",
        "assignment_group",
        "topic",
        "partition",
        "stage",
        "kind",
        "le",
        "version",
        "python",
    }
    for family in families.values():
        if family.name.startswith(("process_", "python_")):
            continue  # the standard collectors, with their own conventional labels
        assert family.name.startswith("correlator_")
        for sample in family.samples:
            assert set(sample.labels) <= allowed_labels, (family.name, sample.labels)
    lag = {s.labels["partition"]: s.value for s in families["correlator_consumer_lag"].samples}
    assert lag == {"0": 5.0}
    opened = {s.labels["priority"]: s.value for s in families["correlator_open_incidents"].samples}
    assert opened["1"] == 2 and opened["5"] == 0


def test_the_server_is_bounded() -> None:
    limits = HttpLimits(h11_max_incomplete_event_size=8 * 1024)
    server = HttpService(Metrics().registry, Health(), "127.0.0.1", 0, limits=limits).start()
    try:
        # Headers that never end: refused once they pass the bound, not buffered for ever.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"x" * 16 * 1024)
            assert sock.recv(100).startswith(b"HTTP/1.1 4")
        assert _get(server.port, "/livez")[0] == 200
        # Ids in paths do not make one series per incident or caller.
        _get(server.port, "/api/v1/incidents/INC-1")
        _get(server.port, "/api/v1/callers/alice")
        body = _get(server.port, "/metrics")[1].decode()
        assert 'path="/api/v1/incidents/{id}"' in body and "INC-1" not in body
        assert 'path="/api/v1/callers/{who}"' in body and "alice" not in body
    finally:
        server.close()
