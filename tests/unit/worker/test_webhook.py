"""`POST /webhook`, the HTTP input, on the in-memory broker: what it answers and writes."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from correlator.worker.http import Health, HealthServer, Webhook
from correlator.worker.metrics import Metrics
from correlator.worker.ports import ProduceError
from tests.support.memory_broker import MemoryClients, MemoryProducer
from tests.unit.worker.conftest import Harness

TOKEN = "s3cret"

FIRING = orjson.dumps(
    {
        "version": "4",
        "groupKey": '{}:{alertname="DatabaseDown"}',
        "status": "firing",
        "receiver": "correlator",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DatabaseDown", "topology_node": "db-e"},
                "startsAt": "2026-11-22T05:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "f1",
            },
            {
                "status": "firing",
                "labels": {"alertname": "AppDown", "service": "app-e"},
                "startsAt": "2026-11-22T05:00:10Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "f2",
            },
        ],
    }
)


class Served:
    def __init__(self, harness: Harness, server: HealthServer, metrics: Metrics) -> None:
        self.harness = harness
        self.server = server
        self.metrics = metrics

    def post(
        self,
        body: bytes | None,
        *,
        token: str | None = TOKEN,
        path: str = "/webhook",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, object]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            sent = dict(headers or {})
            if token is not None:
                sent["Authorization"] = f"Bearer {token}"
            if body is None:  # no Content-Length at all
                conn.putrequest("POST", path)
                for name, value in sent.items():
                    conn.putheader(name, value)
                conn.endheaders()
            else:
                conn.request("POST", path, body=body, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            try:
                return response.status, orjson.loads(raw)
            except orjson.JSONDecodeError:  # refused by the HTTP parser itself (bad header)
                return response.status, {"raw": raw.decode()}
        finally:
            conn.close()

    def alerts_written(self) -> list[tuple[bytes | None, bytes | None]]:
        topic = self.harness.config.alerts_topic
        return [(m.key, m.value) for m in self.harness.records(topic)]

    def requests(self) -> dict[tuple[str, str], float]:
        text = self.server_metrics()
        return {
            (s.labels["path"], s.labels["code"]): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if s.name == "correlator_http_requests_total"
        }

    def server_metrics(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request("GET", "/metrics")
            return conn.getresponse().read().decode()
        finally:
            conn.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    harness = Harness(tmp_path, http_token=TOKEN)
    harness.worker()  # creates the topics, as serve() does before opening the input
    metrics = Metrics()
    server = HealthServer(metrics.registry, Health(), "127.0.0.1", 0).start()
    clients = MemoryClients(harness.broker, harness.config.group_id)
    server.open_webhook(Webhook.from_config(harness.config, clients.producer))
    try:
        yield Served(harness, server, metrics)
    finally:
        server.close()


def test_a_webhook_is_written_unchanged_and_correlated(served: Served) -> None:
    code, answer = served.post(FIRING)
    assert (code, answer) == (200, {"ok": True, "alerts": 2})
    # Acknowledged means written: the record is there before the answer.
    assert served.alerts_written() == [(b'{}:{alertname="DatabaseDown"}', FIRING)]
    served.harness.run()
    (incident,) = served.harness.final().values()
    assert incident.root_cause is not None
    assert incident.root_cause.node == "db-e"
    assert {a.node for a in incident.alerts} == {"db-e", "app-e"}
    assert served.harness.records(served.harness.config.dlq_topic) == []


def test_a_message_that_cannot_be_read_is_refused_with_the_reason(served: Served) -> None:
    code, answer = served.post(b"{not json")
    assert code == 400 and answer["ok"] is False and answer["code"] == "not_json"
    assert str(answer["reason"]).startswith("not JSON:")
    code, answer = served.post(b'{"hello": 1}')
    assert code == 400 and answer["code"] == "unknown_shape"
    code, answer = served.post(FIRING.replace(b"2026-11-22T05:00:00Z", b"yesterday"))
    assert code == 400 and answer["code"] == "bad_timestamp"
    assert "alerts[0].startsAt" in str(answer["reason"])
    assert served.alerts_written() == []  # nothing written, nothing dead-lettered


def test_too_large_is_413_and_lengths_are_checked(served: Served) -> None:
    limit = served.harness.config.max_message_bytes
    code, answer = served.post(b" " * (limit + 1))
    assert code == 413 and answer["code"] == "too_large"
    assert served.post(None)[0] == 411
    assert served.post(None, headers={"Content-Length": "-3"})[0] == 400
    assert served.post(None, headers={"Content-Length": "many"})[0] == 400
    assert served.alerts_written() == []


def test_the_bearer_token_is_required_when_configured(served: Served) -> None:
    assert served.post(FIRING, token=None)[0] == 401
    assert served.post(FIRING, token="wrong")[0] == 401
    assert served.post(FIRING, headers={"Authorization": TOKEN}, token=None)[0] == 401
    assert served.alerts_written() == []
    assert served.post(FIRING)[0] == 200


def test_a_failed_produce_is_503_so_the_sender_retries(served: Served) -> None:
    class Failing(MemoryProducer):
        def flush(self, timeout: float) -> None:
            raise ProduceError("not acknowledged in time")

    built: list[MemoryProducer] = []

    def factory() -> MemoryProducer:
        producer = (Failing if not built else MemoryProducer)(served.harness.broker)
        built.append(producer)
        return producer

    served.server.open_webhook(
        Webhook(factory, served.harness.config.alerts_topic, max_bytes=100_000)
    )
    code, answer = served.post(FIRING, token=None)
    assert code == 503
    assert answer == {"ok": False, "reason": "not written to Kafka: not acknowledged in time"}
    # The failed producer is replaced; the retry goes through.
    assert served.post(FIRING, token=None)[0] == 200
    assert len(built) == 2
    assert len(served.alerts_written()) == 1


def test_requests_are_counted_by_path_and_code(served: Served) -> None:
    served.post(FIRING)
    served.post(b"[]")
    served.post(FIRING, token=None)
    served.post(FIRING, path="/elsewhere")
    counts = served.requests()
    assert counts[("/webhook", "200")] == 1
    assert counts[("/webhook", "400")] == 1
    assert counts[("/webhook", "401")] == 1
    assert counts[("other", "404")] == 1


def test_the_input_is_closed_until_the_worker_opened_it(tmp_path: Path) -> None:
    server = HealthServer(Metrics().registry, Health(), "127.0.0.1", 0).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/webhook", body=FIRING)
        response = conn.getresponse()
        assert response.status == 503
        assert b"not open yet" in response.read()
        conn.close()
    finally:
        server.close()


def test_a_chunked_body_is_accepted_and_limited(served: Served) -> None:
    def chunked(body: bytes) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", served.server.port, timeout=10)
        try:
            pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
            conn.request(
                "POST",
                "/webhook",
                body=iter(pieces),
                headers={"Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"},
                encode_chunked=True,
            )
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    code, answer = chunked(FIRING)
    assert code == 200 and orjson.loads(answer)["alerts"] == 2
    limit = served.harness.config.max_message_bytes
    code, answer = chunked(b" " * (limit + 5000))
    assert code == 413 and orjson.loads(answer)["code"] == "too_large"
    assert served.alerts_written() == [(b'{}:{alertname="DatabaseDown"}', FIRING)]


def test_the_alertmanager_api_v2_array_is_accepted(served: Served) -> None:
    body = orjson.dumps([a for a in orjson.loads(FIRING)["alerts"]])
    assert served.post(body) == (200, {"ok": True, "alerts": 2})
    assert served.alerts_written() == [(None, body)]


def test_200_concurrent_senders_are_all_answered_within_alertmanagers_timeout(
    served: Served,
) -> None:
    """Alertmanager gives a webhook 10 s. Each answer waits for its flush; the group commit
    shares flushes between waiting requests, so 200 at once are answered well within it."""

    class SlowFlush(MemoryProducer):
        flushes = 0

        def flush(self, timeout: float) -> None:
            time.sleep(0.02)  # a broker round trip with acks=all
            SlowFlush.flushes += 1
            super().flush(timeout)

    served.server.open_webhook(
        Webhook(
            lambda: SlowFlush(served.harness.broker),
            served.harness.config.alerts_topic,
            max_bytes=100_000,
        )
    )
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    start = threading.Barrier(200)

    def send() -> None:
        start.wait()
        began = time.monotonic()
        code, _ = served.post(FIRING, token=None)
        with lock:
            results.append((code, time.monotonic() - began))

    threads = [threading.Thread(target=send) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 200
    assert {code for code, _ in results} == {200}
    slowest = max(seconds for _, seconds in results)
    assert slowest < 10, slowest
    # One after the other this would take 200 flushes (4 s of round trips alone).
    assert SlowFlush.flushes < 100, SlowFlush.flushes
    assert len(served.alerts_written()) == 200
