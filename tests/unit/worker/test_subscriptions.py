"""Subscriptions reach the engine that owns the incident, and only that one publishes; the
outputs (topic + format) carry every published version (memory broker)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from cloudevents.core.bindings.kafka import KafkaMessage, from_structured
from cloudevents.core.formats.json import JSONFormat

from correlator.core import Correlator, IncidentUpdate
from correlator.core.model import IncidentRecord
from correlator.core.settings import EngineSettings
from correlator.desk.subscriptions import Subscription
from correlator.wire.render.record import build_record
from correlator.worker.config import OutputSettings
from correlator.worker.engine import Engine
from correlator.worker.loop import Worker
from correlator.worker.ports import Message
from correlator.worker.subscriptions import SubscriptionFeed
from tests.support.scenario import outages
from tests.unit.worker.conftest import Harness
from topology import Topology

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class SubscribingCorrelator(Correlator):
    """The engine's subscribe as the worker relies on it: [] for an incident it does not
    hold, a new version for one it holds, nothing for a person already subscribed. (Unlike
    the real engine it keeps subscribers outside its persisted state: tests that restore
    engines only count who was asked.)"""

    calls: ClassVar[list[tuple[int, str, str]]] = []

    def __init__(self, topology: Topology, settings: EngineSettings) -> None:
        super().__init__(topology, settings, render=build_record)
        self.subscribed: set[tuple[str, str]] = set()

    def subscribe(self, incident_id: str, user: str, now: datetime) -> list[IncidentUpdate]:
        SubscribingCorrelator.calls.append((id(self), incident_id, user))
        incident = self.incidents.get(incident_id)
        if incident is None or incident.status != "open":
            return []
        if (incident_id, user) in self.subscribed:
            return []
        self.subscribed.add((incident_id, user))
        incident.version += 1
        return [
            IncidentUpdate(build_record(incident, self.topology, self.settings, ["subscribers"]))
        ]


def _factory(topology: Topology, settings: EngineSettings) -> Engine:
    return SubscribingCorrelator(topology, settings)


def _positions(harness: Harness) -> set[tuple[int, int]]:
    return {(m.partition, m.offset) for m in harness.records(harness.config.incidents_topic)}


def _published_since(harness: Harness, before: set[tuple[int, int]]) -> list[Message]:
    return [
        m
        for m in harness.records(harness.config.incidents_topic)
        if (m.partition, m.offset) not in before and _changes(m) == ["subscribers"]
    ]


def _changes(message: Message) -> list[str]:
    assert message.value is not None
    return IncidentRecord.model_validate_json(message.value).changes


def _with_events(worker: Worker) -> set[int]:
    return {id(p.engine) for p in worker.engines.values() if p.clock.now is not None}


def _open_incident(harness: Harness) -> IncidentRecord:
    opened = [r for r in harness.final().values() if r.status == "open"]
    assert opened, "the scenario opens incidents"
    return opened[0]


def test_only_the_owner_publishes_a_subscription_once(tmp_path: Path) -> None:
    SubscribingCorrelator.calls = []
    harness = Harness(tmp_path)
    feed = SubscriptionFeed()
    worker = harness.worker(engine_factory=_factory, subscriptions=feed)
    harness.produce(outages(seed=3, faults=2))
    harness.run()
    target = _open_incident(harness)
    before = _positions(harness)
    subscription = Subscription(incident=target.id, user="u-ann", requested_at=AT)
    feed.offer(subscription)
    worker.run_once()
    engines = {
        engine for engine, incident, _ in SubscribingCorrelator.calls if incident == target.id
    }
    # Every engine that ever saw an event is asked (one that never did holds no incident).
    assert engines == _with_events(worker) and len(engines) >= 2
    published = _published_since(harness, before)
    assert [m.key for m in published] == [target.id.encode()]  # exactly the owner answers
    newest = harness.final()[target.id]
    assert newest.version == target.version + 1 and newest.changes == ["subscribers"]
    applied = worker.metrics.registry.get_sample_value(
        "correlator_subscriptions_applied_total", {"outcome": "applied"}
    )
    assert applied == 1
    # Read again (a restart of the reader, or asked twice): nothing new.
    feed.offer(subscription)
    worker.run_once()
    assert len(_published_since(harness, before)) == 1


def test_engines_restored_on_another_worker_are_offered_every_known_subscription(
    tmp_path: Path,
) -> None:
    SubscribingCorrelator.calls = []
    harness = Harness(tmp_path)
    first = harness.worker(engine_factory=_factory)
    harness.produce(outages(seed=5, faults=2))
    harness.run()
    target = _open_incident(harness)
    harness.kill(first)
    feed = SubscriptionFeed()  # the new worker re-read the topic from the beginning
    feed.offer(Subscription(incident=target.id, user="u-bob", requested_at=AT))
    second = harness.worker(engine_factory=_factory, subscriptions=feed)
    harness.run([second])
    asked = {engine for engine, incident, user in SubscribingCorrelator.calls if user == "u-bob"}
    assert asked == _with_events(second) and asked
    assert harness.final()[target.id].changes == ["subscribers"]


def test_outputs_carry_every_version_in_their_format(tmp_path: Path) -> None:
    harness = Harness(
        tmp_path, outputs=[OutputSettings(topic="incidents.ce", format="cloudevents")]
    )
    harness.worker()
    harness.produce(outages(seed=3, faults=2))
    harness.run()
    harness.drain()
    native = harness.records(harness.config.incidents_topic)
    events = harness.records("incidents.ce")
    assert len(events) == len(native) > 0
    assert harness.broker.configs["incidents.ce"]["cleanup.policy"] == "compact"
    for message, original in zip(events, native, strict=True):
        assert message.key == original.key
        assert message.value is not None and original.value is not None
        event = from_structured(
            KafkaMessage(headers=dict(message.headers), key=message.key, value=message.value),
            JSONFormat(),
        )
        record = IncidentRecord.model_validate(event.get_data())
        assert record.id.encode() == message.key
        assert record == IncidentRecord.model_validate_json(original.value)
