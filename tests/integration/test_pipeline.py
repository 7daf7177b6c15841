"""A worker on a real broker: events in, incidents out, bad input dead-lettered."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.admin import KafkaTopicAdmin
from correlator.worker.kafka.tools import TopicTail, produce
from correlator.worker.output import (
    H_DLQ_CODE,
    H_DLQ_OFFSET,
    H_DLQ_PARTITION,
    H_DLQ_REASON,
    H_DLQ_TIME,
    H_DLQ_TOPIC,
)
from correlator.worker.ports import TopicSpec
from tests.conftest import KafkaNames
from tests.support.live import (
    Collector,
    WorkerThread,
    http_get,
    produce_lines,
    wait_for,
    worker_settings,
)
from tests.support.scenario import (
    BAD_MESSAGES,
    assert_same_incidents,
    expected_final,
    outages,
    stamped,
    with_bad_messages,
    write_org,
)

pytestmark = pytest.mark.kafka


def test_events_in_incidents_and_dead_letters_out(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    org = write_org(tmp_path)
    lines = outages(seed=21, faults=12)
    mixed = with_bad_messages(lines, seed=21)
    want = expected_final(org, lines, drain=False)
    started = time.monotonic()
    worker = WorkerThread(worker_settings(kafka_bootstrap, kafka_names, org)).start()
    try:
        worker.wait_ready()
        ready = time.monotonic() - started
        incidents = Collector(kafka_bootstrap, kafka_names.incidents)
        try:
            produced = time.monotonic()
            produce_lines(kafka_bootstrap, kafka_names.alerts, mixed)
            got = incidents.wait_final(want, timeout=60)
            took = time.monotonic() - produced
            assert_same_incidents(got, want)
            # Kafka key = incident id: a compacted topic keeps each incident's latest state.
            for message in incidents.snapshot():
                assert message.key == orjson.loads(message.value or b"")["id"].encode()
        finally:
            incidents.close()
        with TopicTail(kafka_bootstrap, kafka_names.dlq) as tail:
            letters = []
            wait_for(
                lambda: bool(letters.extend(tail.poll(0.2))) or len(letters) >= len(BAD_MESSAGES),
                20,
                "dead letters",
            )
        by_code = {dict(m.headers)[H_DLQ_CODE].decode(): m for m in letters}
        assert sorted(by_code) == sorted(BAD_MESSAGES)
        for code, letter in by_code.items():
            headers = dict(letter.headers)
            assert letter.value == BAD_MESSAGES[code]
            assert headers[H_DLQ_TOPIC] == kafka_names.alerts.encode()
            assert int(headers[H_DLQ_PARTITION]) == 0
            assert int(headers[H_DLQ_OFFSET]) == mixed.index(BAD_MESSAGES[code])
            assert headers[H_DLQ_REASON] and headers[H_DLQ_TIME].endswith(b"Z")
        code, body = http_get(worker.port, "/metrics")
        assert code == 200
        assert b'correlator_dead_letters_total{reason="not_json"} 1.0' in body
        assert http_get(worker.port, "/livez")[0] == 200
        print(f"ready {ready:.1f}s; {len(mixed)} messages -> {len(want)} incidents in {took:.2f}s")
    finally:
        assert worker.stop() == 0


def test_a_backlog_on_three_input_partitions_is_read_in_time_order(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    """The input topic holds a backlog (the worker was down) spread over three partitions:
    the worker merges them by timestamp, so the engines see the events in time order."""
    org = write_org(tmp_path)
    lines = outages(seed=22, faults=80)
    want = expected_final(org, lines, drain=False)
    admin_settings = worker_settings(
        kafka_bootstrap, kafka_names, org, partitions={"alerts": 3}, max_poll_records=50
    )
    # The topics exist before the worker does (it would create them the same way).
    admin = KafkaTopicAdmin(WorkerConfig.model_validate(admin_settings))
    admin.ensure_topics([TopicSpec(kafka_names.alerts, 3)])
    admin.close()
    # Round-robin, as keyless producers spread messages, with strictly increasing
    # timestamps, as a producer's clock gives them.
    last = 0
    by_partition: dict[int, list[tuple[None, bytes, int]]] = {0: [], 1: [], 2: []}
    for i, (raw, ts) in enumerate(stamped(lines)):
        last = max(ts, last + 1)
        by_partition[i % 3].append((None, raw, last))
    for p, records in by_partition.items():
        produce(kafka_bootstrap, kafka_names.alerts, records, partition=p)
    worker = WorkerThread(admin_settings).start()
    incidents = Collector(kafka_bootstrap, kafka_names.incidents)
    try:
        assert_same_incidents(incidents.wait_final(want, timeout=60), want)
    finally:
        incidents.close()
        assert worker.stop() == 0
