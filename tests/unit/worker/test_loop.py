"""The worker loop on the in-memory broker: the same answers as replay, through crashes,
rebalances, bad input and topology reloads."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from correlator.core.settings import EngineSettings, LifecycleSettings
from correlator.worker.changelog import WORKER_KEY
from correlator.worker.config import ConfigError, PartitionSettings
from correlator.worker.output import (
    H_DLQ_CODE,
    H_DLQ_OFFSET,
    H_DLQ_PARTITION,
    H_DLQ_REASON,
    H_DLQ_TOPIC,
)
from correlator.worker.ports import TP
from tests.support.memory_broker import MemoryProducer, SimulatedCrash
from tests.support.scenario import (
    BAD_MESSAGES,
    assert_same_incidents,
    expected_final,
    outages,
    with_bad_messages,
)
from tests.unit.worker.conftest import Harness


def _sides(lines: list[bytes]) -> set[str]:
    return {s for s in ("-e", "-w") if any(s.encode() in line for line in lines)}


def test_events_in_incidents_out_equal_replay(harness: Harness) -> None:
    lines = outages(seed=3, faults=10)
    assert _sides(lines) == {"-e", "-w"}
    worker = harness.worker()
    harness.produce(lines)
    harness.run()
    harness.drain()
    assert_same_incidents(harness.final(), expected_final(harness.topology_path, lines))
    # Both domains ran in their own engines, on their own partitions.
    assert len(worker.engines) == 3
    busy = [p for p, part in worker.engines.items() if part.checkpoint.offset > 0]
    assert len(busy) == 2


def test_incident_records_are_keyed_by_id_with_versions_in_order(harness: Harness) -> None:
    harness.worker()
    harness.produce(outages(seed=4, faults=4))
    harness.run()
    versions: dict[str, list[int]] = {}
    for message in harness.records(harness.config.incidents_topic):
        record = orjson.loads(message.value or b"")
        assert message.key == record["id"].encode()
        versions.setdefault(record["id"], []).append(record["version"])
    for seen in versions.values():
        assert seen == list(range(1, len(seen) + 1))


def test_bad_messages_go_to_the_dead_letter_topic_with_headers(harness: Harness) -> None:
    lines = outages(seed=5, faults=3)
    mixed = with_bad_messages(lines, seed=5)
    worker = harness.worker()
    harness.produce(mixed)
    harness.run()
    harness.drain()
    letters = harness.records(harness.config.dlq_topic)
    by_code = {dict(m.headers)[H_DLQ_CODE].decode(): m for m in letters}
    assert sorted(by_code) == sorted(BAD_MESSAGES)
    sources = {
        (m.partition, m.offset): m.value for m in harness.records(harness.config.alerts_topic)
    }
    for code, letter in by_code.items():
        headers = dict(letter.headers)
        assert letter.value == BAD_MESSAGES[code]  # the original bytes
        assert headers[H_DLQ_TOPIC] == b"alerts"
        assert headers[H_DLQ_REASON]
        where = (int(headers[H_DLQ_PARTITION]), int(headers[H_DLQ_OFFSET]))
        assert sources[where] == BAD_MESSAGES[code]
    # ... and the good ones still made the same incidents.
    assert_same_incidents(harness.final(), expected_final(harness.topology_path, lines))
    dead = worker.metrics.registry.get_sample_value
    assert dead("correlator_dead_letters_total", {"reason": "not_json"}) == 1
    consumed = dead(
        "correlator_events_consumed_total", {"format": "unknown", "outcome": "dead_letter"}
    )
    assert consumed == len(BAD_MESSAGES)


def test_a_poison_message_is_dead_lettered_once_and_never_blocks(harness: Harness) -> None:
    harness.worker()
    harness.produce([BAD_MESSAGES["not_json"]] * 3 + outages(seed=6, faults=1))
    harness.run()
    assert len(harness.records(harness.config.dlq_topic)) == 3
    assert harness.final()
    committed = harness.broker.groups["g"].committed
    assert sum(v for tp, v in committed.items() if tp.topic == "alerts") == len(
        harness.records("alerts")
    )


def test_oversized_dead_letters_are_cut_to_fit(tmp_path: Path) -> None:
    harness = Harness(tmp_path, dlq_max_bytes=2048)
    harness.worker()
    harness.produce([BAD_MESSAGES["too_large"]])
    harness.run()
    (letter,) = harness.records(harness.config.dlq_topic)
    assert letter.value == BAD_MESSAGES["too_large"][:2048]
    assert (
        dict(letter.headers)["correlator.dlq.truncated"]
        == str(len(BAD_MESSAGES["too_large"])).encode()
    )


def test_state_changes_and_checkpoints_go_to_the_state_partition_of_the_engine(
    harness: Harness,
) -> None:
    worker = harness.worker()
    harness.produce(outages(seed=3, faults=4))
    harness.run()
    state = harness.records(worker.state_topic)
    keys_by_partition: dict[int, set[bytes]] = {}
    for message in state:
        keys_by_partition.setdefault(message.partition, set()).add(message.key or b"")
    for partition, keys in keys_by_partition.items():
        assert WORKER_KEY.encode() in keys
        assert worker.engines[partition].checkpoint.offset > 0
        assert any(k.startswith(b"incident/") for k in keys)


def test_restart_restores_state_and_adds_nothing(harness: Harness) -> None:
    lines = outages(seed=7, faults=8)
    first = harness.worker()
    harness.produce(lines[:25])
    harness.run()
    first.close(clean=True)
    harness.workers.remove(first)
    before = len(harness.incidents())
    second = harness.worker()
    harness.run()
    assert len(harness.incidents()) == before  # restored; nothing re-published
    harness.produce(lines[25:])
    harness.run()
    harness.drain()
    assert_same_incidents(harness.final(), expected_final(harness.topology_path, lines))
    assert second.metrics.registry.get_sample_value("correlator_state_restored_records_total")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(crashes=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=4))
def test_crash_at_any_point_loses_nothing_and_duplicates_nothing(
    tmp_path_factory: pytest.TempPathFactory, crashes: list[int]
) -> None:
    harness = Harness(tmp_path_factory.mktemp("crash"))
    lines = outages(seed=8, faults=6)
    harness.produce(lines)
    for crash_after in crashes:
        worker = harness.worker()
        producer = worker.producer
        assert isinstance(producer, MemoryProducer)
        producer.crash_after = crash_after
        with pytest.raises(SimulatedCrash):
            for _ in range(200):
                worker.run_once()
            raise SimulatedCrash  # finished before the crash point: die idle
        harness.kill(worker)
    harness.worker()
    harness.run()
    harness.drain()
    got = harness.final()
    assert_same_incidents(got, expected_final(harness.topology_path, lines))
    # Re-publication after a crash repeats a version with the same content, never a new one.
    seen: dict[tuple[str, int], bytes] = {}
    for message in harness.records(harness.config.incidents_topic):
        record = orjson.loads(message.value or b"")
        key = (record["id"], record["version"])
        assert seen.setdefault(key, message.value or b"") == message.value


def test_two_workers_share_partitions_and_survive_a_rebalance(tmp_path: Path) -> None:
    # One alerts partition (the default): whichever worker decodes, the input keeps its order.
    harness = Harness(
        tmp_path, partitions=PartitionSettings(alerts=1, repartition=3, incidents=2, dlq=1)
    )
    lines = outages(seed=9, faults=10)
    a = harness.worker()
    b = harness.worker()
    harness.produce(lines[:30])
    harness.run()
    assert a.engines and b.engines
    assert not set(a.engines) & set(b.engines)
    c = harness.worker()  # a third joins: everything moves
    harness.produce(lines[30:45])
    harness.run()
    harness.kill(b)  # one dies
    harness.produce(lines[45:])
    harness.run()
    harness.drain()
    assert sum(len(w.engines) for w in (a, c)) == 3
    assert_same_incidents(harness.final(), expected_final(harness.topology_path, lines))


def test_idle_engines_resolve_after_the_hold_down_by_wall_time(tmp_path: Path) -> None:
    engine = EngineSettings(lifecycle=LifecycleSettings(hold_down=timedelta(minutes=5)))
    harness = Harness(tmp_path, engine=engine)
    harness.worker()
    lines = outages(seed=10, faults=1, tail=False)
    harness.produce(lines)
    harness.run()
    assert {r.status for r in harness.final().values()} == {"open"}
    harness.mono.advance(200)  # not yet: 200 s of 300
    harness.run()
    assert {r.status for r in harness.final().values()} == {"open"}
    harness.mono.advance(120)
    harness.run()
    assert {r.status for r in harness.final().values()} == {"resolved"}


def test_topology_reload_good_and_bad(harness: Harness) -> None:
    worker = harness.worker()
    registry = worker.metrics.registry
    assert registry.get_sample_value("correlator_topology_nodes") == 12
    text = harness.topology_path.read_text()
    harness.topology_path.write_text(
        text.replace(
            "defaults:", "  - {id: extra, kind: host, site: east-dc, owner: net}\ndefaults:"
        )
    )
    worker.request_reload()
    worker.run_once()
    assert registry.get_sample_value("correlator_topology_nodes") == 13
    assert registry.get_sample_value("correlator_topology_reloads_total") == 1
    harness.topology_path.write_text(text.replace("depends_on: [core-e]", "depends_on: [nope]"))
    worker.request_reload()
    worker.run_once()
    assert registry.get_sample_value("correlator_topology_reload_failures_total") == 1
    assert registry.get_sample_value("correlator_topology_nodes") == 13
    assert len(worker.topology) == 13
    # the last good topology keeps working
    harness.produce(outages(seed=3, faults=2))
    harness.run()
    assert harness.final()


def test_topology_file_change_is_noticed_by_polling(harness: Harness) -> None:
    worker = harness.worker()
    text = harness.topology_path.read_text()
    harness.topology_path.write_text(
        text.replace(
            "defaults:", "  - {id: extra, kind: host, site: east-dc, owner: net}\ndefaults:"
        )
    )
    stat = harness.topology_path.stat()
    os.utime(harness.topology_path, (stat.st_atime, stat.st_mtime + 5))
    harness.mono.advance(10)
    worker.run_once()
    assert len(worker.topology) == 13


def test_stop_finishes_the_batch_commits_and_exits_zero(harness: Harness) -> None:
    worker = harness.worker()
    harness.produce(outages(seed=11, faults=2))
    worker.run_once()
    worker.stop()
    assert worker.run() == 0
    consumer = harness.consumer_of(worker)
    assert consumer.closed
    committed = harness.broker.groups["g"].committed
    assert committed[TP("alerts", 0)] > 0


def test_readiness_and_liveness_follow_the_loop(harness: Harness) -> None:
    worker = harness.worker()
    assert not worker.health.ready().ok  # not yet joined
    worker.run_once()
    assert worker.health.ready().ok
    assert worker.health.live().ok
    worker.health.liveness_timeout = -1
    assert not worker.health.live().ok


def test_metrics_count_what_happened(harness: Harness) -> None:
    worker = harness.worker()
    lines = outages(seed=3, faults=3)
    harness.produce(lines)
    harness.run()
    value = worker.metrics.registry.get_sample_value
    assert value("correlator_events_consumed_total", {"format": "native", "outcome": "ok"})
    assert value("correlator_incident_updates_published_total", {"status": "open"})
    assert value("correlator_engines") == 3
    assert value("correlator_consumer_lag", {"topic": "alerts", "partition": "0"}) == 0
    assert value("correlator_ready") == 1
    harness.drain()
    assert value("correlator_incident_updates_published_total", {"status": "resolved"}) == 3
    durations = [
        sample.value
        for family in worker.metrics.registry.collect()
        if family.name == "correlator_incident_resolve_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    ]
    assert sum(durations) == 3
    assert (value("correlator_user_time_lost_seconds_total") or 0) > 0


def test_several_input_partitions_are_merged_back_into_time_order(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path,
        partitions=PartitionSettings(alerts=3, repartition=3, incidents=2, dlq=1),
        max_poll_records=64,
    )
    worker = harness.worker()
    lines = outages(seed=12, faults=120)
    harness.produce(lines)
    harness.run()
    for p in range(3):
        stamps = [
            int(dict(m.headers)["correlator.src.timestamp"])
            for m in harness.records(worker.repartition_topic)
            if m.partition == p
        ]
        assert stamps == sorted(stamps)
    assert_same_incidents(
        harness.final(), expected_final(harness.topology_path, lines, drain=False)
    )


def test_without_create_topics_missing_topics_stop_the_start(tmp_path: Path) -> None:
    harness = Harness(tmp_path, create_topics=False)
    with pytest.raises(ConfigError, match="topics missing"):
        harness.worker()
    # an operator created them beforehand
    harness.broker.create_topic("alerts", 1)
    for name in ("g-repartition", "g-state"):
        harness.broker.create_topic(name, 3)
    for name in ("incidents", "alerts.dlq"):
        harness.broker.create_topic(name, 1)
    assert harness.worker().partitions == 3
