"""Two workers' desks on one real broker answer alike: each reads the whole incidents topic
(no consumer group), is ready only once caught up, and sees subscriptions made on the other."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from prometheus_client import CollectorRegistry

from correlator.worker.config import WorkerConfig
from correlator.worker.http import Health, HttpService, Webhook
from correlator.worker.kafka.client import KafkaClients
from correlator.worker.kafka.incidents_view import DeskRuntime, open_desk
from correlator.worker.kafka.tools import produce
from correlator.worker.ports import TopicSpec
from tests.conftest import KafkaNames
from tests.support.http_client import HttpClient
from tests.unit.desk.conftest import by_title, demo_records, wait_until
from topology import load_example
from topology.loader import example_topology_path

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


class Served:
    def __init__(self, config: WorkerConfig, stack: ExitStack) -> None:
        topology = load_example()
        self.runtime: DeskRuntime = open_desk(config, CollectorRegistry(), lambda: topology)
        stack.callback(self.runtime.close)
        self.service = HttpService(
            CollectorRegistry(),
            Health(),
            "127.0.0.1",
            0,
            desk=self.runtime.desk,
            subscriptions_topic=self.runtime.subscriptions_topic,
        ).start()
        stack.callback(self.service.close)
        self.service.open_webhook(Webhook.from_config(config, KafkaClients(config).producer))
        self.http = HttpClient(self.service.port)


@pytest.fixture
def config(kafka_bootstrap: str, kafka_names: KafkaNames) -> Iterator[WorkerConfig]:
    config = WorkerConfig(
        bootstrap_servers=kafka_bootstrap,
        group_id=kafka_names.group_id,
        incidents_topic=kafka_names.incidents,
        alerts_topic=kafka_names.alerts,
        dlq_topic=kafka_names.dlq,
        topology=str(example_topology_path()),
    )
    admin = KafkaClients(config).admin()
    admin.ensure_topics([TopicSpec(kafka_names.incidents, 3)])
    admin.close()
    yield config


def test_two_workers_answer_alike_and_share_subscriptions(
    config: WorkerConfig, kafka_bootstrap: str
) -> None:
    records = demo_records(6)
    wan = by_title(records, "WAN")
    produce(
        kafka_bootstrap,
        config.incidents_topic,
        ((r.id.encode(), r.to_json(), None) for r in records),
    )
    with ExitStack() as stack:
        a, b = Served(config, stack), Served(config, stack)
        for served in (a, b):
            assert served.runtime.reader.wait_ready(30), served.runtime.reader.error
        listed = [s.http.get("/api/v1/incidents").json() for s in (a, b)]
        assert listed[0] == listed[1]
        assert len(listed[0]["incidents"]) == 3  # type: ignore[index]
        callers = [s.http.get("/api/v1/callers/alice").json() for s in (a, b)]
        assert callers[0] == callers[1]
        history = b.http.get(f"/api/v1/incidents/{wan.id}/history").json()
        assert [v["version"] for v in history["versions"]] == [  # type: ignore[index]
            r.version for r in records if r.id == wan.id
        ]
        path = f"/api/v1/incidents/{wan.id}/subscriptions"
        assert a.http.post(path, json={"user": "bob@example.com"}).status_code == 202

        def on_b() -> bool:
            shown = b.http.get(f"/api/v1/incidents/{wan.id}").json()
            return shown["desk"]["subscribers"] == ["bob"]  # type: ignore[index]

        wait_until(on_b, "the subscription on the other worker")

    # A restarted worker rebuilds its view from the topics before it says it is ready.
    with ExitStack() as stack:
        again = Served(config, stack)
        assert again.runtime.reader.wait_ready(30)
        assert len(again.runtime.desk.view) == 3
        shown = again.http.get(f"/api/v1/incidents/{wan.id}").json()
        assert shown["desk"]["subscribers"] == ["bob"]  # type: ignore[index]
