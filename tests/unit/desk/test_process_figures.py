"""The desk's process figures (issue 10): repeats, reopenings, recent resolutions and open
incidents by priority and resolver group, from the view every worker keeps."""

from __future__ import annotations

from datetime import timedelta

import orjson
from prometheus_client import CollectorRegistry

from correlator.core.model import IncidentRecord
from correlator.desk.metrics import DeskCollector, summarise
from correlator.desk.view import DeskView
from tests.unit.desk.conftest import by_title, demo_records, fill
from topology import Topology


def _put(view: DeskView, record: IncidentRecord, **changes: object) -> IncidentRecord:
    raw = record.model_dump(mode="json", by_alias=True)
    raw.update(changes)
    raw["version"] = record.version + 10
    newer = IncidentRecord.model_validate(raw)
    view.apply(newer.id.encode(), newer.to_json())
    return newer


def test_repeats_reopenings_and_resolutions(topology: Topology) -> None:
    records = demo_records(6)
    view = fill(DeskView(), records)
    wan = by_title(records, "WAN")
    now = wan.updated_at + timedelta(hours=2)
    before = summarise(view, topology, now)
    assert before.repeats_open == before.reopened_open == before.resolved_recently == 0
    assert before.median_resolve_seconds is None
    # The view reads `recurrence` leniently: the engine's record may carry more than a count.
    _put(view, wan, reopened=1)
    raw = view.raw(wan.id)
    assert raw is not None
    repeat = dict(raw, recurrence={"count": 2, "last_resolved_at": None}, version=99)
    view.apply(wan.id.encode(), orjson.dumps(repeat))
    after = summarise(view, topology, now)
    assert after.reopened_open == 1 and after.repeats_open == 1
    other = next(r for r in view.records() if r.id != wan.id)
    original = next(r for r in reversed(records) if r.id == other.id)
    resolved_at = original.opened_at + timedelta(minutes=40)
    _put(view, original, status="resolved", resolved_at=resolved_at.isoformat())
    done = summarise(view, topology, resolved_at + timedelta(hours=1))
    assert done.resolved_recently == 1
    assert done.median_resolve_seconds == 2400.0
    assert done.open_incidents == before.open_incidents - 1
    # A day later the resolution is no longer "recent".
    assert summarise(view, topology, resolved_at + timedelta(days=2)).resolved_recently == 0


def test_open_incidents_by_priority_and_resolver_group(topology: Topology) -> None:
    records = demo_records(6)
    view = fill(DeskView(), records)
    registry = CollectorRegistry()
    registry.register(DeskCollector(view, lambda: topology))
    expected: dict[tuple[str, str], int] = {}
    for r in view.records():
        key = (str(r.priority), r.assignment_group or "none")
        expected[key] = expected.get(key, 0) + 1
    assert expected
    for (priority, group), count in expected.items():
        labels = {"priority": priority, "assignment_group": group}
        assert registry.get_sample_value("correlator_desk_open_incidents", labels) == count
