"""The desk view: latest per incident, bounded history, filters, distinct head counts."""

from __future__ import annotations

from correlator.core.model import IncidentRecord
from correlator.desk.metrics import summarise
from correlator.desk.view import DeskView, Filters
from tests.unit.desk.conftest import at, by_title, demo_records, fill
from topology import Topology


def test_latest_version_per_incident_and_history_oldest_first(
    view: DeskView, records: list[IncidentRecord]
) -> None:
    wan = by_title(records, "WAN")
    versions = [r.version for r in records if r.id == wan.id]
    assert len(versions) >= 2
    latest = view.get(wan.id)
    assert latest is not None and latest.version == max(versions)
    history = view.history_of(wan.id)
    assert history is not None
    assert [v["version"] for v in history] == sorted(versions)


def test_old_and_repeated_versions_change_nothing(records: list[IncidentRecord]) -> None:
    view = fill(DeskView(), records)
    wan = by_title(records, "WAN")
    first = next(r for r in records if r.id == wan.id)
    view.apply(first.id.encode(), first.to_json())  # a producer retry, or a re-read
    history = view.history_of(wan.id)
    assert history is not None and [v["version"] for v in history] == sorted(
        {r.version for r in records if r.id == wan.id}
    )
    assert view.get(wan.id) is not None and view.get(wan.id).version == wan.version  # type: ignore[union-attr]


def test_history_is_bounded_and_closed_incidents_are_evicted() -> None:
    records = demo_records(14)
    view = fill(DeskView(history=2, closed_kept=1), records)
    for incident_id in {r.id for r in records}:
        history = view.history_of(incident_id)
        assert history is None or len(history) <= 2
    closed = view.records(Filters(status="all"))
    assert sum(1 for r in closed if r.status != "open") <= 1


def test_tombstones_and_garbage() -> None:
    view = fill(DeskView(), demo_records(4))
    some = view.records()[0].id
    view.apply(some.encode(), None)
    assert view.get(some) is None
    view.apply(b"x", b"not json")
    view.apply(b"x", b'{"id": "x"}')
    assert view.stats.skipped == 2


def test_filters(view: DeskView, records: list[IncidentRecord]) -> None:
    wan = by_title(records, "WAN")
    assert {r.id for r in view.records(Filters(site="dallas"))} >= {wan.id}
    assert [r.id for r in view.records(Filters(priority=wan.priority))] == [wan.id]
    assert view.records(Filters(site="london")) == []
    assert view.records(Filters(status="resolved")) == []
    only = view.records(Filters(assignment_group="network-ops"))
    assert [r.id for r in only] == [wan.id]
    assert [r.id for r in view.records(Filters(user_group="support-dallas"))] == [wan.id]


def test_warning_is_at_risk_and_outage_is_not(
    view: DeskView, records: list[IncidentRecord]
) -> None:
    files = view.get(by_title(records, "file server").id)
    wan = view.get(by_title(records, "WAN").id)
    assert files is not None and files.at_risk
    assert wan is not None and not wan.at_risk


def test_people_are_counted_once_across_incidents(view: DeskView, topology: Topology) -> None:
    # Dallas sales and finance are in both incidents; the WAN outage stops them working.
    summary = summarise(view, topology, at("2026-11-22T05:10:00Z"))
    assert summary.cannot_work == 120 + 50 + 30
    assert summary.at_risk == 0
    assert summary.open_incidents == 2
    more = fill(DeskView(), demo_records(6))  # plus the CRM database: 470, overlapping
    both = summarise(more, topology, at("2026-11-22T05:20:00Z"))
    per_incident = sum(r.affected.users for r in more.records())
    distinct = sum(
        topology.nodes[g].users for r in more.records() for g in set(r.affected.user_groups)
    )
    assert both.cannot_work < per_incident and both.cannot_work <= distinct
    assert both.cannot_work == sum(
        topology.nodes[g].users
        for g in {g for r in more.records() if not r.at_risk for g in r.affected.user_groups}
    )


def test_overdue_updates_and_subscriptions(view: DeskView, topology: Topology) -> None:
    open_ = view.records()
    due = min(r.next_update_at for r in open_ if r.next_update_at is not None)
    assert summarise(view, topology, due).updates_overdue == 0
    later = max(r.next_update_at for r in open_ if r.next_update_at is not None)
    assert summarise(view, topology, later.replace(year=2027)).updates_overdue == len(open_)
    view.add_subscription(open_[0].id, "alice", due)
    view.add_subscription(open_[0].id, "alice", due)
    assert view.subscribers(open_[0].id) == ["alice"]
    assert summarise(view, topology, due).subscriptions == 1
