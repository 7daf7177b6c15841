"""Every bound at its limit, in memory (fast): the decoders, the engine, the worker's records,
replay and readiness. The same pills against a real broker: `test_poison_pills.py`."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from correlator.cli import main
from correlator.core import Correlator
from correlator.core import bounds as core_bounds
from correlator.core.model import Alert
from correlator.core.settings import BoundSettings, EngineSettings, LifecycleSettings
from correlator.core.timers import COMPACT_SLACK, TimerWheel
from correlator.replay import LongLine, bounded_lines, replay_lines
from correlator.wire.decode import DecodeError, decode
from correlator.wire.decode._common import (
    MAX_ENTRIES,
    MAX_LABEL_VALUE,
    MAX_SUMMARY,
    MAX_TEXT,
    TRUNCATED,
)
from correlator.wire.render.record import build_record
from correlator.worker.eventtime import EventClock
from correlator.worker.http import Health
from correlator.worker.metrics import Metrics
from correlator.worker.output import (
    DLQ_HEADERS_BYTES,
    DLQ_KEY_BYTES,
    H_DLQ_CODE,
    H_DLQ_HEADERS_DROPPED,
    H_DLQ_KEY_TRUNCATED,
    Output,
)
from correlator.worker.ports import Headers, Message, RecordRejectedError
from correlator.worker.topics import BrokerWatch
from tests.support.scenario import TWO_DOMAIN_ORG, write_org
from tests.unit.worker.conftest import Harness
from topology import load_topology

NOW = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)


def native(name: str, at: datetime | str, **extra: object) -> bytes:
    when = at if isinstance(at, str) else at.isoformat().replace("+00:00", "Z")
    return orjson.dumps(
        {"source": "x", "name": name, "status": "firing", "timestamp": when, **extra}
    )


# -- decoder bounds ---------------------------------------------------------------------------


@pytest.mark.fault("labels: more than 128 per alert", tries=1)
def test_too_many_labels_refuse_the_alert() -> None:
    labels = {f"l{i}": "v" for i in range(MAX_ENTRIES + 1)}
    with pytest.raises(DecodeError) as err:
        decode(native("P", NOW, labels=labels), received_at=NOW)
    assert err.value.code == "too_large"
    labels.popitem()
    (alert,) = decode(native("P", NOW, labels=labels), received_at=NOW)
    assert len(alert.labels) == MAX_ENTRIES


@pytest.mark.fault("label value over 4096 characters", tries=1)
def test_a_long_label_value_refuses_the_alert() -> None:
    (ok,) = decode(native("P", NOW, labels={"a": "x" * MAX_LABEL_VALUE}), received_at=NOW)
    assert len(ok.labels["a"]) == MAX_LABEL_VALUE
    with pytest.raises(DecodeError) as err:
        decode(native("P", NOW, labels={"a": "x" * (MAX_LABEL_VALUE + 1)}), received_at=NOW)
    assert err.value.code == "too_large"


@pytest.mark.fault("annotation or summary of 900 KB", tries=2)
def test_long_annotations_and_summaries_are_cut_with_a_marker() -> None:
    big = "y" * 900_000
    (alert,) = decode(
        native("P", NOW, summary=big, annotations={"d": big}),
        received_at=NOW,
        max_bytes=4_000_000,
    )
    for text, limit in ((alert.summary, MAX_SUMMARY), (alert.annotations["d"], MAX_TEXT)):
        assert len(text) == limit
        assert text.endswith(TRUNCATED)


@pytest.mark.fault("year-0001 dates other than Go's zero time", tries=1)
@pytest.mark.parametrize(
    "when", ["0001-06-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:01Z"]
)
def test_year_one_is_only_go_zero_time_when_exact(when: str) -> None:
    am = {"labels": {"alertname": "P"}, "startsAt": "2026-11-22T05:00:00Z", "endsAt": when}
    with pytest.raises(DecodeError) as err:
        decode(orjson.dumps(am), received_at=NOW)
    assert err.value.code == "bad_timestamp"
    am["endsAt"] = "0001-01-01T00:00:00Z"
    (alert,) = decode(orjson.dumps(am), received_at=NOW)
    assert alert.ends_at is None


# -- engine bounds ----------------------------------------------------------------------------


def _engine(tmp_path: Path, **bounds: object) -> Correlator:
    topology = load_topology(str(write_org(tmp_path, TWO_DOMAIN_ORG)))
    settings = EngineSettings(bounds=BoundSettings.model_validate(bounds))
    return Correlator(topology, settings, render=build_record)


def _am_alert(name: str, fingerprint: str, at: datetime) -> Alert:
    return Alert(
        fingerprint=fingerprint,
        name=name,
        status="firing",
        source="alertmanager",
        labels={"alertname": name, "i": fingerprint},
        starts_at=at,
    )


@pytest.mark.fault("firing alerts never re-sent (stale)", tries=1)
def test_a_firing_alert_not_resent_for_stale_after_is_resolved(tmp_path: Path) -> None:
    engine = _engine(tmp_path, stale_after="1h")
    engine.ingest(_am_alert("Gone", "f1", NOW), NOW)
    engine.ingest(_am_alert("Kept", "f2", NOW), NOW)
    # f2 is re-sent every 30 minutes; f1 never again.
    for minutes in (30, 60, 90):
        engine.ingest(_am_alert("Kept", "f2", NOW), NOW + timedelta(minutes=minutes))
    engine.tick(NOW + timedelta(minutes=91))
    gone = engine.alerts.get("f1")
    assert gone is None or not gone.active  # resolved (and forgotten once its incident is)
    assert engine.alerts["f2"].status == "firing"
    assert engine.stats().alerts_expired_stale == 1
    # A PagerDuty-style source (sends a trigger once) is never expired.
    engine.ingest(
        Alert(fingerprint="p1", name="Pd", status="firing", source="pagerduty", starts_at=NOW),
        NOW + timedelta(minutes=92),
    )
    engine.tick(NOW + timedelta(days=3))
    assert engine.alerts["p1"].status == "firing"


@pytest.mark.fault("alerts beyond max_alerts per engine", tries=10)
def test_new_alerts_beyond_max_alerts_are_dropped_and_counted(tmp_path: Path) -> None:
    engine = _engine(tmp_path, max_alerts=5)
    for i in range(10):
        engine.ingest(_am_alert("Storm", f"s{i}", NOW), NOW + timedelta(seconds=i))
    assert len(engine.alerts) == 5
    assert engine.stats().alerts_dropped_cap == 5
    # Known alerts still resolve, which makes room again.
    resolved = _am_alert("Storm", "s0", NOW).model_copy(
        update={"status": "resolved", "ends_at": NOW + timedelta(minutes=1)}
    )
    engine.ingest(resolved, NOW + timedelta(minutes=1))
    assert engine.alerts["s0"].status == "resolved"


def _churn(engine: Correlator, count: int) -> int:
    """`count` alerts, one a second, fire and resolve 30 s later; the most timers seen."""
    most = 0
    for i in range(count):
        at = NOW + timedelta(seconds=i)
        engine.ingest(_am_alert(f"Churn{i}", f"c{i}", at), at)
        gone = _am_alert(f"Churn{i}", f"c{i}", at).model_copy(
            update={"status": "resolved", "ends_at": at + timedelta(seconds=30)}
        )
        engine.ingest(gone, at + timedelta(seconds=30))
        if i % 50 == 0:
            most = max(most, engine.stats().timers)
    return most


@pytest.mark.fault("incidents churning for hours (stale timers)", tries=5000)
def test_timers_of_forgotten_incidents_do_not_pile_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each incident's update-due timer lies hours ahead (its priority's cadence), long after
    # the incident is forgotten: without the rebuild they would all wait in the heap.
    topology = load_topology(str(write_org(tmp_path, TWO_DOMAIN_ORG)))
    brief = EngineSettings(
        lifecycle=LifecycleSettings(hold_down=timedelta(seconds=30), reopen_window=timedelta(0))
    )
    engine = Correlator(topology, brief, render=build_record)
    most = _churn(engine, 5000)
    live = len(engine.alerts) + len(engine.incidents)
    assert live < 200  # each incident is forgotten about a minute after it resolves
    assert engine.stats().timers <= 2 * 3 * 200 + COMPACT_SLACK
    assert most <= 2 * 3 * 200 + COMPACT_SLACK + 1
    monkeypatch.setattr(TimerWheel, "overgrown", lambda _self, _items: False)
    unbounded = _churn(Correlator(topology, brief, render=build_record), 5000)
    assert unbounded >= 2 * 5000 > 2 * most


@pytest.mark.fault("forgotten alerts beyond the tombstone cap", tries=8)
def test_tombstones_stop_at_their_cap_the_oldest_going_first(tmp_path: Path) -> None:
    engine = _engine(tmp_path, max_tombstones=5)
    for i in range(8):
        at = NOW + timedelta(minutes=i)
        engine.ingest(_am_alert(f"Churn{i}", f"c{i}", at), at)
        gone = _am_alert(f"Churn{i}", f"c{i}", at).model_copy(
            update={"status": "resolved", "ends_at": at + timedelta(seconds=30)}
        )
        engine.ingest(gone, at + timedelta(seconds=30))
    engine.tick(NOW + timedelta(hours=2))  # past hold-down and reopen window: all forgotten
    stats = engine.stats()
    assert (stats.held_alerts, stats.incidents, stats.tombstones) == (0, 0, 5)
    # The three oldest went: their late re-sends open incidents again, the rest are stale.
    late = NOW + timedelta(hours=2, minutes=1)
    assert engine.ingest(_am_alert("Churn0", "c0", NOW), late) != []
    assert engine.ingest(_am_alert("Churn7", "c7", NOW + timedelta(minutes=7)), late) == []


@pytest.mark.fault("restored year-9999 clock (old checkpoint)", tries=2)
def test_a_poisoned_clock_is_clamped_and_never_overflows(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    engine.ingest(_am_alert("P", "f1", NOW), NOW)
    state = engine.snapshot()
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    engine.restore(state)
    engine.tick(far)  # clamped to bounds.EVENT_TIME_MAX: no OverflowError
    assert engine.clock == core_bounds.EVENT_TIME_MAX
    clock = EventClock(far, mono=0.0)
    assert clock.idle_now(10**9) == core_bounds.EVENT_TIME_MAX


# -- the worker's records ---------------------------------------------------------------------


class _Refusing:
    """A producer whose broker refuses records over `limit` at flush (as Kafka does)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[tuple[str, bytes | None, bytes | None, Headers]] = []
        self._pending: list[tuple[str, bytes | None, bytes | None, Headers]] = []

    def send(
        self,
        topic: str,
        *,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        timestamp_ms: int | None = None,
    ) -> None:
        self._pending.append((topic, key, value, headers))

    def flush(self, timeout: float) -> None:
        pending, self._pending = self._pending, []
        refused = [
            (t, "MessageSizeTooLargeError") for t, k, v, h in pending if len(v or b"") > self.limit
        ]
        self.sent.extend(p for p in pending if len(p[2] or b"") <= self.limit)
        if refused:
            raise RecordRejectedError(refused)

    def close(self) -> None:
        pass


def _output(producer: _Refusing, max_record_bytes: int = 4 * 1024 * 1024) -> Output:
    return Output(
        producer,
        flush_timeout=1,
        dlq_topic="dlq",
        dlq_max_bytes=1_000_000,
        metrics=Metrics(),
        wall=lambda: NOW,
        max_record_bytes=max_record_bytes,
    )


@pytest.mark.fault("dead letter of a 5 MB key and five 1 MB headers", tries=1)
def test_dead_letters_are_bounded_by_construction() -> None:
    producer = _Refusing(limit=10**9)
    out = _output(producer)
    headers = (*((f"h{i}", b"h" * 1_000_000) for i in range(5)), ("small", b"s"))
    poison = Message("alerts", 0, 7, b"k" * 5_000_000, b"v" * 1_100_000, headers)
    out.dead_letter(poison, "not_json", "not JSON")
    out.flush()
    ((topic, key, value, sent_headers),) = producer.sent
    assert topic == "dlq"
    assert key is not None and len(key) == DLQ_KEY_BYTES
    assert value is not None and len(value) == 1_000_000
    names = dict(sent_headers)
    assert names[H_DLQ_KEY_TRUNCATED] == b"5000000"
    assert names[H_DLQ_HEADERS_DROPPED] == b"5"
    assert names["small"] == b"s"
    assert sum(len(v) for _, v in sent_headers) < DLQ_HEADERS_BYTES + 10_000


@pytest.mark.fault("incident or state record over the producer limit", tries=2)
def test_a_record_over_the_limit_is_dropped_and_noted_not_fatal() -> None:
    producer = _Refusing(limit=50_000)
    out = _output(producer, max_record_bytes=100_000)
    assert not out.send("incidents", partition=None, key=b"INC-1", value=b"x" * 200_000)
    assert out.send("incidents", partition=None, key=b"INC-2", value=b"x" * 60_000)  # broker: no
    assert out.send("incidents", partition=None, key=b"INC-3", value=b"ok")
    out.flush()  # the broker refuses INC-2 only: no FatalError
    topics = [(t, k) for t, k, _, _ in producer.sent]
    assert ("incidents", b"INC-3") in topics
    notices = [h for t, _, _, h in producer.sent if t == "dlq"]
    assert [dict(h)[H_DLQ_CODE] for h in notices] == [b"record_refused", b"record_refused"]
    refused = out._metrics.registry.get_sample_value(
        "correlator_records_refused_total", {"topic": "incidents"}
    )
    assert refused == 2


@pytest.mark.fault("null-value Kafka record", tries=1)
def test_a_null_value_is_dead_lettered(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.worker()
    harness.broker.create_topic("alerts", 2)
    harness.broker.append("alerts", 0, b"k", None, timestamp_ms=1)
    harness.run()
    (letter,) = harness.records(harness.config.dlq_topic)
    assert dict(letter.headers)[H_DLQ_CODE] == b"null_value"


@pytest.mark.fault("Kafka timestamp beyond year 9999", tries=1)
def test_an_absurd_kafka_timestamp_does_not_stop_decoding(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.worker()
    harness.broker.create_topic("alerts", 2)
    at = datetime.now(UTC) - timedelta(minutes=1)
    harness.broker.append("alerts", 0, None, native("P", at), timestamp_ms=2**62)
    harness.run()
    assert harness.final()


# -- replay -----------------------------------------------------------------------------------


@pytest.mark.fault("replay: year-9999 and year-2100 lines", tries=2)
def test_replay_skips_impossible_times_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = write_org(tmp_path, TWO_DOMAIN_ORG)
    lines = tmp_path / "in.jsonl"
    lines.write_bytes(
        native("A", NOW, node="db-e")
        + b"\n"
        + native("B", "9999-12-31T23:59:59Z")
        + b"\n"
        + native("C", "2100-01-01T00:00:00Z")
        + b"\n"
    )
    code = main(
        [
            "replay",
            "--topology",
            str(org),
            "--input",
            str(lines),
            "--output",
            str(tmp_path / "out.jsonl"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    assert err.count("skipped (bad_timestamp)") == 2
    records = [orjson.loads(x) for x in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert records and all(r["updated_at"].startswith("2026") for r in records)


@pytest.mark.fault("replay: a line over the size limit", tries=1)
def test_replay_reads_long_lines_in_bounded_pieces(tmp_path: Path) -> None:
    data = b"short\n" + b"x" * 5000 + b"\nlast"
    reads: list[int] = []

    class Spy(io.BytesIO):
        def readline(self, size: int | None = -1) -> bytes:
            line = super().readline(size)
            reads.append(len(line))
            return line

    got = list(bounded_lines(Spy(data), max_line_bytes=100))
    assert got == [b"short\n", LongLine(5001), b"last"]
    assert max(reads) <= 1 << 20
    org = write_org(tmp_path, TWO_DOMAIN_ORG)
    records = replay_lines(load_topology(str(org)), None, [LongLine(5001), native("A", NOW)])
    assert records


# -- readiness --------------------------------------------------------------------------------


class _Consumer:
    up = True

    def reachable(self) -> bool:
        return self.up


@pytest.mark.fault("broker unreachable", tries=1)
def test_readiness_fails_after_the_broker_is_unreachable_for_broker_timeout() -> None:
    health = Health()
    health.topology_loaded = health.joined = True
    metrics = Metrics()
    mono = [0.0]
    watch = BrokerWatch(health, metrics, lambda: mono[0], timeout=30)
    consumer = _Consumer()
    watch.observe(consumer)  # type: ignore[arg-type]
    assert health.ready().ok
    consumer.up = False
    watch.observe(consumer)  # type: ignore[arg-type]
    mono[0] = 20
    watch.observe(consumer)  # type: ignore[arg-type]
    assert health.ready().ok  # a blip
    assert metrics.registry.get_sample_value("correlator_broker_up") == 0
    mono[0] = 31
    watch.observe(consumer)  # type: ignore[arg-type]
    status = health.ready()
    assert not status.ok and status.detail["checks"]["broker_reachable"] is False
    consumer.up = True
    watch.observe(consumer)  # type: ignore[arg-type]
    assert health.ready().ok
    assert metrics.registry.get_sample_value("correlator_broker_up") == 1
