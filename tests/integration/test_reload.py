"""Topology reload in a running `correlator run`: on file change and on SIGHUP; an invalid
topology keeps the last good one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import KafkaNames
from tests.support.live import Collector, WorkerProcess, produce_lines, wait_for, worker_settings
from tests.support.scenario import outages, write_org

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EXTRA = "  - {id: extra-host, kind: host, site: east-dc, owner: net, depends_on: [core-e]}\n"


def test_topology_reload_good_bad_and_sighup(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    org = write_org(tmp_path)
    good = org.read_text()
    settings = worker_settings(kafka_bootstrap, kafka_names, org)
    worker = WorkerProcess(settings, tmp_path).start()
    collector = Collector(kafka_bootstrap, kafka_names.incidents)
    try:
        worker.wait_ready()
        assert worker.metric("correlator_topology_nodes") == 12
        # 1. the file changes: noticed by polling its modification time
        org.write_text(good.replace("defaults:", EXTRA + "defaults:"))
        wait_for(lambda: worker.metric("correlator_topology_nodes") == 13, 15, "reload")
        assert worker.metric("correlator_topology_reloads_total") == 1
        # 2. an invalid topology is refused; the last good one stays
        org.write_text(good.replace("depends_on: [core-e]", "depends_on: [no-such-node]"))
        wait_for(
            lambda: worker.metric("correlator_topology_reload_failures_total") == 1,
            15,
            "refusal",
        )
        assert worker.metric("correlator_topology_nodes") == 13
        assert "keeping the last good one" in worker.log()
        assert "no-such-node" in worker.log()
        assert worker.ready()
        # ... and alerts are still correlated with it
        produce_lines(kafka_bootstrap, kafka_names.alerts, outages(seed=41, faults=2))
        wait_for(lambda: len(collector.final()) >= 2, 20, "incidents")
        # 3. SIGHUP reloads at once (here: the original file again)
        org.write_text(good)
        worker.hangup()
        wait_for(lambda: worker.metric("correlator_topology_nodes") == 12, 15, "SIGHUP reload")
        assert worker.metric("correlator_topology_reloads_total") == 2
        assert worker.terminate() == 0
    finally:
        collector.close()
        worker.stop()
