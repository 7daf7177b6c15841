"""docs/updates.md: what publishes at once, what coalesces, what `changes` names, the update_due
chase, bounded records, recurrence, and the O(change) changelog."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson

from correlator.core import Correlator
from correlator.core.lifecycle import TOMBSTONE_SWEEP_AT
from correlator.core.model import IncidentRecord
from correlator.core.settings import EngineSettings
from correlator.wire.render.record import build_record
from tests.unit.engine.conftest import T0, alert, feed
from topology import Topology

S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)


def tick(engine: Correlator, at: timedelta) -> list[IncidentRecord]:
    return [u.record for u in engine.tick(T0 + at)]


def test_alerts_joining_without_desk_news_coalesce_into_one_version(engine: Correlator) -> None:
    opened = feed(engine, alert("a", "crm-db", 0 * S))
    assert [r.changes for r in opened] == [["alert_added", "opened"]]
    quiet = feed(engine, *(alert(f"x{i}", "crm-db", (1 + i) * S) for i in range(5)))
    assert quiet == []  # same root, same people: nothing a desk acts on yet
    assert tick(engine, 29 * S) == []
    coalesced = tick(engine, 30 * S)
    assert len(coalesced) == 1
    assert coalesced[0].changes == ["alert_added"]
    assert coalesced[0].alerts_total == 6
    assert coalesced[0].updated_at == T0 + 30 * S
    assert tick(engine, 5 * M) == []


def test_a_desk_change_publishes_at_once_and_names_everything(engine: Correlator) -> None:
    feed(engine, alert("a", "crm-app", 0 * S))
    feed(engine, alert("x", "crm-app", 1 * S))  # waits
    out = feed(engine, alert("b", "crm-db", 2 * S))  # the cause moves down to the database
    assert len(out) == 1
    assert "root_cause" in out[0].changes and "alert_added" in out[0].changes
    assert out[0].root_cause is not None and out[0].root_cause.node == "crm-db"
    assert tick(engine, 10 * M) == []  # nothing was left pending


def test_the_first_change_after_a_quiet_interval_publishes_at_once(engine: Correlator) -> None:
    feed(engine, alert("a", "crm-db", 0 * S))
    out = feed(engine, alert("x", "crm-db", 2 * M))
    assert [r.changes for r in out] == [["alert_added"]]


def test_update_due_chases_once_when_the_deadline_passes(engine: Correlator) -> None:
    first = feed(engine, alert("a", "crm-db", 0 * S))[0]
    due = first.next_update_at
    assert due is not None
    assert [u.record for u in engine.tick(due - S)] == []
    chased = [u.record for u in engine.tick(due)]
    assert [r.changes for r in chased] == [["update_due"]]
    assert chased[0].next_update_at == due  # still overdue: nobody updated the users
    assert [u.record for u in engine.tick(due + 6 * timedelta(hours=24))] == []
    later = feed(engine, alert("x", "crm-db", due + 3 * M))
    assert later[0].next_update_at is not None and later[0].next_update_at > due + 3 * M


def test_priority_does_not_rise_again_when_the_critical_clears_first(org: Topology) -> None:
    engine = Correlator(org, EngineSettings(), render=build_record)
    records = feed(
        engine,
        alert("c", "crm-db", 0 * M, severity="critical"),
        alert("w", "crm-db", 0 * M + S, severity="warning"),
        alert("c", "crm-db", 2 * M, status="resolved", started=0 * M),
    )
    records += tick(engine, 3 * M)
    lowered = records[-1].priority
    assert lowered > records[0].priority  # only a warning is firing now
    records += feed(engine, alert("w", "crm-db", 4 * M, status="resolved", started=0 * M + S))
    records += tick(engine, 30 * M)
    assert records[-1].status == "resolved"
    assert [r.priority for r in records if r.updated_at >= T0 + 3 * M] == [lowered] * len(
        [r for r in records if r.updated_at >= T0 + 3 * M]
    )


def test_records_are_bounded_and_list_firing_severe_alerts_first(org: Topology) -> None:
    settings = EngineSettings(max_alerts_per_incident=5, max_affected_listed=1)
    engine = Correlator(org, settings, render=build_record)
    events = [alert(f"w{i}", "crm-db", i * S, severity="warning") for i in range(8)]
    events += [alert("w0", "crm-db", 9 * S, status="resolved", started=0 * S, severity="warning")]
    events += [alert("c", "crm-db", 10 * S, severity="critical")]
    records = feed(engine, *events) + tick(engine, 2 * M)
    record = records[-1]
    assert record.alerts_total == 9 and record.alerts_firing == 8
    assert len(record.alerts) == 5
    assert record.alerts[0].fingerprint == "c"
    assert all(a.status == "firing" for a in record.alerts)
    assert len(record.affected.user_groups) <= 1
    assert record.affected.user_groups_total is not None and record.affected.user_groups_total > 1
    assert len(record.to_json()) < 20_000
    assert orjson.loads(record.to_json()) == record.model_dump(mode="json", by_alias=True)


def test_recurrence_counts_earlier_incidents_on_the_same_root(org: Topology) -> None:
    engine = Correlator(org, EngineSettings(), render=build_record)
    first = feed(engine, alert("a", "crm-db", 0 * M))[0]
    assert first.recurrence.count == 0 and first.recurrence.window_days == 30
    feed(engine, alert("a", "crm-db", 1 * M, status="resolved", started=0 * M))
    assert tick(engine, 2 * timedelta(hours=1))[-1].status == "resolved"
    again = feed(engine, alert("a", "crm-db", 3 * timedelta(hours=1)))[0]
    assert again.id != first.id
    assert again.recurrence.count == 1
    assert again.recurrence.last_resolved_at == T0 + 1 * M
    feed(
        engine,
        alert(
            "a",
            "crm-db",
            3 * timedelta(hours=1) + M,
            status="resolved",
            started=3 * timedelta(hours=1),
        ),
    )
    tick(engine, 5 * timedelta(hours=1))
    assert engine.counters["incidents_repeated"] == 1
    restored = Correlator(org, EngineSettings(), render=build_record)
    restored.restore(engine.snapshot())
    third = feed(restored, alert("a", "crm-db", 6 * timedelta(hours=1)))[0]
    assert third.recurrence.count == 2


def test_one_alert_joining_a_large_incident_writes_one_small_change(org: Topology) -> None:
    engine = Correlator(org, EngineSettings(), render=build_record)
    feed(engine, *(alert(f"x{i}", "crm-db", i * S / 100) for i in range(2000)))
    engine.take_state_changes()
    feed(engine, alert("late", "crm-db", 1 * M))
    changes = engine.take_state_changes()
    assert set(changes) <= {"meta", "alert/late", f"incident/{next(iter(engine.incidents))}"}
    assert all(len(orjson.dumps(v)) < 4_000 for v in changes.values())
    assert "tombstones" not in (changes.get("meta") or {})


def test_no_tombstone_for_a_key_never_written_and_tombstones_are_alert_keys(
    engine: Correlator,
) -> None:
    feed(engine, alert("a", "crm-db", 0 * M))
    feed(engine, alert("a", "crm-db", 1 * M, status="resolved", started=0 * M))
    tick(engine, 3 * timedelta(hours=1))  # resolved, then forgotten
    changes = engine.take_state_changes()
    assert changes["alert/a"] == {"v": 2, "tombstone": (T0 + 1 * M).isoformat()}
    assert all(v is not None for k, v in changes.items() if k.startswith("alert/"))
    restored = Correlator(engine.topology, EngineSettings(), render=build_record)
    restored.restore(engine.snapshot())
    assert feed(restored, alert("a", "crm-db", 0 * M)) == []  # a late re-send: stale


def test_state_written_by_the_previous_format_is_read(org: Topology) -> None:
    """Format 1 (no `v`): incidents carried their alerts, `meta` the tombstones."""
    state = orjson.loads((Path(__file__).parent / "state_v1.json").read_bytes())
    engine = Correlator(org, EngineSettings(), render=build_record)
    engine.restore(state)
    (inc,) = engine.incidents.values()
    assert set(inc.alerts) == {"a", "b", "d"}
    assert inc.active_count == 3
    assert inc.assessment.root_nodes
    assert feed(engine, alert("c", "dallas-printer", 2 * M)) == []  # the tombstone: stale
    out = feed(engine, alert("e", "crm-db", 131 * M, severity="warning"))
    out += tick(engine, 140 * M)
    assert [r.id for r in out] == [inc.id]
    assert out[-1].alerts_total == 4 and out[-1].version == inc.version
    upgraded = engine.snapshot()
    assert all(v.get("v") for v in upgraded.values())


def test_tombstones_expire_after_their_ttl_and_a_restamped_one_lives_on(
    engine: Correlator,
) -> None:
    # More than TOMBSTONE_SWEEP_AT forgotten alerts, so that expiry runs at all.
    count = TOMBSTONE_SWEEP_AT + 50
    fps = [f"t{i}" for i in range(count)]
    feed(engine, *(alert(fp, "crm-db", 0 * M) for fp in fps))
    feed(engine, *(alert(fp, "crm-db", 1 * M, status="resolved", started=0 * M) for fp in fps))
    tick(engine, 3 * H)  # resolved, then forgotten: one tombstone each, ended T0 + 1 min
    # t0 fires and is forgotten again later: its tombstone now ends 4 h in.
    feed(engine, alert("t0", "crm-db", 4 * H))
    feed(engine, alert("t0", "crm-db", 4 * H + M, status="resolved", started=4 * H))
    tick(engine, 7 * H)
    engine.take_state_changes()
    tick(
        engine, EngineSettings().lifecycle.tombstone_ttl + 2 * H
    )  # past the first ends' TTL, not t0's second one
    changes = engine.take_state_changes()
    assert {k for k, v in changes.items() if k.startswith("alert/") and v is None} == {
        f"alert/{fp}" for fp in fps[1:]
    }
    assert feed(engine, alert("t0", "crm-db", 3 * H)) == []  # still a tombstone: stale
    assert feed(engine, alert("t1", "crm-db", 0 * M)) != []  # expired: a new occurrence
