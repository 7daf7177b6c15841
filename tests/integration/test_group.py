"""Several workers in one consumer group share the work, through rebalances."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import KafkaNames
from tests.support.live import Collector, WorkerThread, produce_lines, wait_for, worker_settings
from tests.support.scenario import assert_same_incidents, expected_final, outages, write_org

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_two_workers_one_group_rebalance_midway_one_incident_per_fault(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    org = write_org(tmp_path)
    lines = outages(seed=31, faults=60)
    want = expected_final(org, lines, drain=False)
    third = len(lines) // 3
    settings = worker_settings(kafka_bootstrap, kafka_names, org)
    a = WorkerThread(settings).start()
    b = WorkerThread({**settings, "http_port": 0}).start()
    collector = Collector(kafka_bootstrap, kafka_names.incidents)
    c: WorkerThread | None = None
    try:
        a.wait_ready()
        b.wait_ready()
        wait_for(
            lambda: bool(a.worker.engines) and bool(b.worker.engines),
            30,
            "both workers to own engines",
        )
        assert not set(a.worker.engines) & set(b.worker.engines)
        produce_lines(kafka_bootstrap, kafka_names.alerts, lines[:third])
        time.sleep(1)
        # A third worker joins (rebalance), then the second leaves (rebalance again) while
        # the rest of the input arrives.
        c = WorkerThread({**settings, "http_port": 0}).start()
        produce_lines(kafka_bootstrap, kafka_names.alerts, lines[third : 2 * third])
        c.wait_ready()
        assert b.stop() == 0
        produce_lines(kafka_bootstrap, kafka_names.alerts, lines[2 * third :])
        got = collector.wait_final(want, timeout=90)
        assert_same_incidents(got, want)
        # The incidents can all be out before the group settles after the second worker left:
        # wait for the survivors to own every partition between them, once.
        worker_c = c
        wait_for(
            lambda: set(a.worker.engines) | set(worker_c.worker.engines) == set(range(6)),
            30,
            "the remaining workers to own every partition",
        )
        assert not set(a.worker.engines) & set(c.worker.engines)
    finally:
        collector.close()
        for worker in (a, b, c):
            if worker is not None:
                worker.stop()
