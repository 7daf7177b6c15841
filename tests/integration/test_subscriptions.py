"""A subscription POSTed to the desk API of a real worker on a real broker: it travels through
the subscriptions topic to the engine that owns the incident, whose next version lists the
person in `subscribers`; a restarted worker re-reads the topic and publishes nothing twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from correlator.core.model import IncidentRecord
from correlator.demo import demo_events
from tests.conftest import KafkaNames
from tests.support.http_client import HttpClient
from tests.support.live import Collector, WorkerThread, produce_lines, wait_for, worker_settings
from topology.loader import example_topology_path

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _subscribed(records: list[IncidentRecord], incident: str) -> list[IncidentRecord]:
    return [r for r in records if r.id == incident and "subscribers" in r.changes]


def test_a_subscription_shows_in_the_next_version(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    settings = worker_settings(kafka_bootstrap, kafka_names, example_topology_path())
    worker = WorkerThread(settings).start().wait_ready(60)
    incidents = Collector(kafka_bootstrap, kafka_names.incidents)  # the worker created it
    try:
        produce_lines(kafka_bootstrap, kafka_names.alerts, demo_events()[:6])

        def wan() -> IncidentRecord | None:
            found = [r for r in incidents.records() if "WAN" in r.title and r.status == "open"]
            return found[-1] if found else None

        wait_for(lambda: wan() is not None, 60, "the WAN incident")
        target = wan()
        assert target is not None
        http = HttpClient(worker.port)
        # The desk view may lag the topic by a poll: the API answers 404 until it has it.
        wait_for(
            lambda: http.get(f"/api/v1/incidents/{target.id}").status_code == 200, 30, "the view"
        )
        path = f"/api/v1/incidents/{target.id}/subscriptions"
        assert http.post(path, json={"user": "bob@example.com"}).status_code == 202
        wait_for(lambda: bool(_subscribed(incidents.records(), target.id)), 60, "a version")
        (version,) = _subscribed(incidents.records(), target.id)
        assert "bob" in version.subscribers
        assert version.version > target.version
        assert (
            worker.worker.metrics.registry.get_sample_value(
                "correlator_subscriptions_applied_total", {"outcome": "applied"}
            )
            or 0
        ) >= 1
    finally:
        assert worker.stop() == 0

    # Restarted: it reads the subscriptions topic from the beginning again; the engine has the
    # person in its restored state, so no second version is published.
    again = WorkerThread(settings).start().wait_ready(60)
    try:
        time.sleep(5)  # several iterations, the subscriptions topic read to its end
        assert len(_subscribed(incidents.records(), target.id)) == 1
    finally:
        assert again.stop() == 0
        incidents.close()
