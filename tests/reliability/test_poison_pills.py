"""Poison pills on a real broker (Tansu): after each, the worker is alive and a normal alert
sent afterwards is still published. One worker serves the whole module, as it would serve
them in production, one pill after another; a second one runs with a small producer limit to
drive records over it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from correlator.worker.config import ConfigError, WorkerConfig
from correlator.worker.kafka.client import KafkaClients, KafkaProducer, KafkaTopicAdmin
from correlator.worker.loop import Worker
from correlator.worker.output import DLQ_KEY_BYTES, H_DLQ_CODE, H_DLQ_KEY_TRUNCATED
from correlator.worker.ports import Message, TopicSpec
from tests.conftest import KafkaNames
from tests.support.live import Collector, WorkerThread, wait_for, worker_settings
from tests.support.scenario import write_org

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]

Record = tuple[bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def native(name: str, when: str, **extra: Any) -> bytes:
    event = {"source": "x", "name": name, "status": "firing", "timestamp": when, **extra}
    return orjson.dumps(event)


class Live:
    """A worker on the broker, the producer the pills come from, and its outputs."""

    def __init__(self, bootstrap: str, names: KafkaNames, org: Path, **overrides: Any) -> None:
        self.bootstrap = bootstrap
        self.names = names
        settings = worker_settings(
            bootstrap,
            names,
            org,
            max_message_bytes=4 * 1024 * 1024,
            # The production bounds, not the scenarios'; every change published at once (no
            # coalescing, and ticks are off here) so each pill's effect shows in a record.
            engine={"bounds": {}, "update_interval": "0s"},
            **overrides,
        )
        self.worker = WorkerThread(settings).start().wait_ready(60)
        # gzip, and a producer limit far above the broker's: the sizes the worker must bound
        # are the uncompressed ones (a 5 MB key of one byte repeated is ~5 KB on the wire).
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","),
            acks="all",
            compression_type="gzip",
            max_request_size=64 * 1024 * 1024,
        )
        self.incidents = Collector(bootstrap, names.incidents)
        self.dlq = Collector(bootstrap, names.dlq)

    def send(self, key: bytes | None, value: bytes | None, headers: Any = ()) -> None:
        ms = int(_now().timestamp() * 1000)
        self.producer.send(
            self.names.alerts, key=key, value=value, headers=list(headers), timestamp_ms=ms
        ).get(timeout=30)

    def probe(self) -> None:
        """A normal alert after the pill: it must come out as an incident."""
        name = f"Probe{uuid.uuid4().hex[:8]}"
        self.send(None, native(name, _stamp(_now() - timedelta(seconds=5))))

        def published() -> bool:
            return any(any(a.name == name for a in r.alerts) for r in self.incidents.records())

        wait_for(published, 30, f"incident of {name}", interval=0.2)
        assert self.worker.exit_code is None, "the worker exited"
        assert self.worker._thread.is_alive()

    def letters(self, code: str, count: int = 1) -> list[Message]:
        def found() -> list[Message]:
            return [
                m for m in self.dlq.snapshot() if dict(m.headers).get(H_DLQ_CODE) == code.encode()
            ]

        wait_for(lambda: len(found()) >= count, 30, f"{count} dead letter(s) {code}")
        return found()

    def close(self) -> None:
        self.worker.stop()
        self.producer.close(timeout=5)
        self.incidents.close()
        self.dlq.close()


@pytest.fixture(scope="module")
def live(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    org = write_org(tmp_path_factory.mktemp("org"))
    names = KafkaNames(f"t-pills-{uuid.uuid4().hex[:8]}")
    running = Live(kafka_bootstrap, names, org)
    try:
        yield running
    finally:
        running.close()


@pytest.mark.fault("event time in year 9999 (Kafka)", tries=1)
def test_a_year_9999_event(live: Live) -> None:
    live.send(None, native("P9999", "9999-12-31T23:59:59Z"))
    live.letters("bad_timestamp")
    live.probe()


@pytest.mark.fault("event time in year 2100 (Kafka)", tries=1)
def test_a_year_2100_event_never_moves_the_clock(live: Live) -> None:
    live.send(None, native("P2100", "2100-01-01T00:00:00Z"))
    live.letters("bad_timestamp", 2)
    live.probe()
    assert all(r.updated_at.year < 2100 for r in live.incidents.records())


@pytest.mark.fault("5 MB key", tries=1)
def test_a_5mb_key(live: Live) -> None:
    live.send(b"k" * 5_000_000, b"not json")
    (letter,) = live.letters("not_json")
    assert letter.key is not None and len(letter.key) == DLQ_KEY_BYTES
    assert dict(letter.headers)[H_DLQ_KEY_TRUNCATED] == b"5000000"
    live.probe()


@pytest.mark.fault("five 1 MB headers", tries=1)
def test_five_1mb_headers(live: Live) -> None:
    headers = [(f"h{i}", b"h" * 1_000_000) for i in range(5)]
    live.send(None, b"{not json either", headers)
    letters = live.letters("not_json", 2)
    assert all(sum(len(v) for _, v in m.headers) < 200_000 for m in letters)
    live.probe()


@pytest.mark.fault("1.1 MB value + 3.5 MB of headers", tries=1)
def test_a_large_value_with_large_headers(live: Live) -> None:
    headers = [(f"h{i}", b"x" * 700_000) for i in range(5)]
    live.send(b"key", b"[" * 1_100_000, headers)
    live.letters("not_json", 3)
    live.probe()


@pytest.mark.fault("null-value record (Kafka)", tries=1)
def test_a_null_value(live: Live) -> None:
    live.send(b"tombstone", None)
    live.letters("null_value")
    live.probe()


@pytest.mark.fault("five 900 KB alerts sharing a label (incident > 4 MiB)", tries=5)
def test_five_900kb_alerts_in_one_incident(live: Live) -> None:
    when = _stamp(_now() - timedelta(seconds=30))
    for i in range(5):
        big = "d" * 900_000
        pill = native("Huge", when, fingerprint=f"huge{i}", summary=big, annotations={"d": big})
        live.send(None, pill)

    def grouped() -> bool:
        return any(sum(a.name == "Huge" for a in r.alerts) == 5 for r in live.incidents.records())

    try:
        wait_for(grouped, 30, "one incident of the five alerts")
    except AssertionError:
        codes = [dict(m.headers).get(H_DLQ_CODE) for m in live.dlq.snapshot()]
        counts = [(r.id, [a.name for a in r.alerts]) for r in live.incidents.records()]
        raise AssertionError(f"dead letters {codes}; incidents {counts}") from None
    sizes = [len(m.value or b"") for m in live.incidents.snapshot()]
    assert max(sizes) < 1024 * 1024
    live.probe()


@pytest.mark.fault("incident record over the producer limit", tries=1)
def test_a_record_over_the_producer_limit(kafka_bootstrap: str, tmp_path: Path) -> None:
    names = KafkaNames(f"t-limit-{uuid.uuid4().hex[:8]}")
    small = Live(kafka_bootstrap, names, write_org(tmp_path), kafka={"max_request_size": 24 * 1024})
    try:
        when = _stamp(_now() - timedelta(seconds=30))
        text = "s" * 1000
        for i in range(40):  # 40 alerts x 1 KB summaries: one incident record of ~60 KB
            small.send(None, native("Wide", when, fingerprint=f"wide{i}", summary=text))
        small.letters("record_refused")
        metric = small.worker.worker.metrics.registry.get_sample_value
        wait_for(
            lambda: (
                (metric("correlator_records_refused_total", {"topic": names.incidents}) or 0) >= 1
            ),
            10,
            "refused metric",
        )
        small.probe()
    finally:
        small.close()


@pytest.mark.fault("topics re-created with other partition counts", tries=1)
def test_topics_with_other_partition_counts_are_refused(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    names = KafkaNames(f"t-parts-{uuid.uuid4().hex[:8]}")
    settings = worker_settings(kafka_bootstrap, names, write_org(tmp_path))
    config = WorkerConfig.model_validate(settings)
    admin = KafkaTopicAdmin(config)
    try:  # what a broker that lost its data auto-creates: its default, one partition
        admin.ensure_topics([TopicSpec(names.repartition, 1), TopicSpec(names.state, 1)])
    finally:
        admin.close()
    worker = Worker(config, KafkaClients(config))
    with pytest.raises(ConfigError, match="partition counts differ"):
        worker.start()
