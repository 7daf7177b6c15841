"""`correlator run` processes killed (SIGKILL) and stopped (SIGTERM) at random points: nothing
lost, no second incident for a fault, the same final state as `correlator replay`."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import orjson
import pytest

from correlator.worker.kafka.tools import produce
from tests.conftest import KafkaNames
from tests.support.kafka_tools import committed_offsets, end_offsets
from tests.support.live import Collector, WorkerProcess, worker_settings
from tests.support.scenario import (
    assert_same_incidents,
    expected_final,
    outages,
    stamped,
    with_bad_messages,
    write_org,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _produce_slowly(
    bootstrap: str, topic: str, lines: list[bytes], seconds: float
) -> threading.Thread:
    """Produce in chunks over `seconds`, so that kills land while the worker is busy."""
    records = stamped(lines)
    chunks = 20
    size = max(1, len(records) // chunks + 1)

    def run() -> None:
        for start in range(0, len(records), size):
            produce(
                bootstrap, topic, ((None, raw, ts) for raw, ts in records[start : start + size])
            )
            time.sleep(seconds / chunks)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _assert_versions_never_differ(collector: Collector) -> None:
    """A version re-published after a crash carries the same content: consumers may
    de-duplicate by (id, version)."""
    seen: dict[tuple[str, int], bytes] = {}
    for message in collector.snapshot():
        record = orjson.loads(message.value or b"")
        key = (record["id"], record["version"])
        assert seen.setdefault(key, message.value or b"") == message.value, key


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_at_random_points_then_restart(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    org = write_org(tmp_path)
    lines = with_bad_messages(outages(seed=seed, faults=250), seed=seed)
    want = expected_final(org, lines, drain=False)
    settings = worker_settings(
        kafka_bootstrap,
        kafka_names,
        org,
        max_poll_records=100,
        # Static membership, as a StatefulSet pod would have: the restarted process takes its
        # partitions back at once instead of waiting for the killed one's session to expire.
        kafka={"group_instance_id": "worker-0"} if seed % 2 == 0 else {},
    )
    collector: Collector | None = None
    producer: threading.Thread | None = None
    workers: list[WorkerProcess] = []
    try:
        for life in range(2):
            worker = WorkerProcess(settings, tmp_path, f"worker-{life}").start()
            workers.append(worker)
            worker.wait_ready(timeout=60)
            if producer is None:
                collector = Collector(kafka_bootstrap, kafka_names.incidents)
                producer = _produce_slowly(kafka_bootstrap, kafka_names.alerts, lines, 4.0)
            time.sleep(rng.uniform(0.05, 2.5))
            worker.kill()
        assert collector is not None and producer is not None
        producer.join(30)
        last = WorkerProcess(settings, tmp_path, "worker-last").start()
        workers.append(last)
        last.wait_ready(timeout=60)
        got = collector.wait_final(want, timeout=90)
        assert_same_incidents(got, want)
        _assert_versions_never_differ(collector)
        assert last.terminate() == 0
    finally:
        if collector is not None:
            collector.close()
        for worker in workers:
            worker.stop()


def test_sigterm_finishes_the_batch_commits_and_exits_zero(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    org = write_org(tmp_path)
    lines = outages(seed=3, faults=200)
    want = expected_final(org, lines, drain=False)
    settings = worker_settings(kafka_bootstrap, kafka_names, org, max_poll_records=100)
    first = WorkerProcess(settings, tmp_path, "first").start().wait_ready()
    collector = Collector(kafka_bootstrap, kafka_names.incidents)
    second: WorkerProcess | None = None
    try:
        producer = _produce_slowly(kafka_bootstrap, kafka_names.alerts, lines, 2.0)
        time.sleep(1.0)
        started = time.monotonic()
        assert first.terminate() == 0  # mid-stream
        stop_took = time.monotonic() - started
        assert "worker stopped" in first.log()
        producer.join(30)
        second = WorkerProcess(settings, tmp_path, "second").start().wait_ready()
        got = collector.wait_final(want, timeout=60)
        assert_same_incidents(got, want)
        # stopped when idle, every offset it read is committed
        time.sleep(1)
        assert second.terminate() == 0
        for topic in (kafka_names.alerts, kafka_names.repartition):
            ends = end_offsets(kafka_bootstrap, topic)
            committed = committed_offsets(kafka_bootstrap, kafka_names.group_id, list(ends))
            for tp, end in ends.items():
                assert committed[tp] == (end or None), (tp, committed[tp], end)
        assert stop_took < 10
    finally:
        collector.close()
        first.stop()
        if second is not None:
            second.stop()
