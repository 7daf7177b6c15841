"""The engine's decisions on an organisation small enough to check by hand."""

from __future__ import annotations

from datetime import timedelta

from correlator.core.engine import Correlator
from correlator.core.settings import EngineSettings
from correlator.wire.render.record import build_record

from .conftest import T0, alert, feed, latest

S = timedelta(seconds=1)
M = timedelta(minutes=1)


def test_cause_arriving_after_its_symptoms_still_wins(engine: Correlator) -> None:
    records = feed(
        engine,
        alert("a1", "crm-app", 0 * S),
        alert("a2", "reporting-app", 10 * S),
        alert("a3", "crm-db", 30 * S),
    )
    final = latest(records)
    assert len(final) == 1
    (incident,) = final.values()
    assert incident.root_cause.node == "crm-db"
    assert not incident.root_cause.silent
    assert incident.root_cause.confidence >= 0.9
    assert {a.fingerprint for a in incident.alerts} == {"a1", "a2", "a3"}
    assert incident.assignment_group == "dba"
    assert incident.affected.business_services == ["crm", "reporting"]
    assert incident.affected.users == 120 + 50 + 30


def test_silent_shared_dependency_is_named_with_no_more_confidence(engine: Correlator) -> None:
    # Confidence is calibrated (correlator.rules.calibration): a quiet database whose every
    # monitored dependent alerts is usually right, but never surer than when it alerts itself.
    records = feed(engine, alert("a1", "crm-app", 0 * S), alert("a2", "reporting-app", 20 * S))
    final = latest(records)
    assert len(final) == 1
    root = next(iter(final.values())).root_cause
    assert root.node == "crm-db"
    assert root.silent
    confirmed = latest(feed(engine, alert("a3", "crm-db", 40 * S)))
    assert next(iter(confirmed.values())).root_cause.confidence >= root.confidence


def test_unrelated_alerts_at_the_same_moment_stay_apart(engine: Correlator) -> None:
    records = feed(engine, alert("a1", "crm-db", 0 * S), alert("p1", "dallas-printer", 0 * S))
    final = latest(records)
    assert len(final) == 2
    roots = sorted(r.root_cause.node for r in final.values())
    assert roots == ["crm-db", "dallas-printer"]


def test_redundant_member_failing_alone_hurts_nobody_and_stays_apart(engine: Correlator) -> None:
    records = feed(engine, alert("db", "crm-db", 0 * S), alert("w2", "crm-web-2", 5 * S))
    final = latest(records)
    assert len(final) == 2
    web = next(r for r in final.values() if r.root_cause.node == "crm-web-2")
    assert web.affected.users == 0
    assert web.priority > next(r for r in final.values() if r is not web).priority


def test_both_redundant_members_down_take_crm_down(engine: Correlator) -> None:
    records = feed(engine, alert("w1", "crm-web-1", 0 * S), alert("w2", "crm-web-2", 5 * S))
    final = latest(records)
    users = max(r.affected.users for r in final.values())
    # crm-web-1 alone hurts nobody; once both are down, CRM users (Dallas + NYC sales) are hit.
    assert users == 120 + 50


def test_wan_link_hits_only_the_remote_site(engine: Correlator) -> None:
    records = feed(engine, alert("l1", "wan-dallas-nyc", 0 * S))
    (incident,) = latest(records).values()
    assert incident.affected.user_groups == ["sales-dallas"]
    assert incident.affected.users == 120
    assert incident.affected.sites == ["dallas"]
    assert incident.assignment_group == "network-ops"
    assert incident.cost.per_hour == 120 * 85


def test_resend_publishes_nothing(engine: Correlator) -> None:
    first = feed(engine, alert("a1", "crm-db", 0 * S))
    again = feed(engine, alert("a1", "crm-db", 0 * S), alert("a1", "crm-db", 0 * S))
    assert len(first) == 1
    assert again == []


def test_resolution_waits_for_the_hold_down(engine: Correlator) -> None:
    feed(engine, alert("a1", "crm-db", 0 * S))
    cleared = feed(engine, alert("a1", "crm-db", 2 * M, status="resolved", started=0 * S))
    assert [r.status for r in cleared] == ["open"]
    assert "alert_resolved" in cleared[0].changes
    assert engine.tick(T0 + 6 * M) == []
    (update,) = engine.tick(T0 + 7 * M)
    record = update.record
    assert record.status == "resolved"
    assert record.resolved_at == T0 + 2 * M
    assert record.next_update_at is None
    assert record.cost.accrued > 0


def test_new_alert_on_same_root_reopens_instead_of_duplicating(engine: Correlator) -> None:
    opened = feed(engine, alert("a1", "crm-db", 0 * S))
    opened += feed(engine, alert("a1", "crm-db", 1 * M, status="resolved", started=0 * S))
    opened += [u.record for u in engine.tick(T0 + 10 * M)]
    assert opened[-1].status == "resolved"
    again = feed(engine, alert("a1", "crm-db", 15 * M))
    assert again[-1].id == opened[0].id
    assert again[-1].status == "open"
    assert again[-1].reopened == 1
    assert [r.version for r in opened + again] == [1, 2, 3, 4]


def test_merge_publishes_the_absorbed_incident_once(engine: Correlator) -> None:
    records = feed(
        engine,
        alert("c", "crm-db", 0 * S),
        alert("m", "mail-server", 5 * S),
        alert("core", "nyc-core", 30 * S),
    )
    merged = [r for r in records if r.status == "merged"]
    assert len(merged) == 1
    final = latest(records)
    survivors = [r for r in final.values() if r.status == "open"]
    assert len(survivors) == 1
    assert merged[0].merged_into == survivors[0].id
    assert survivors[0].root_cause.node == "nyc-core"
    assert {a.fingerprint for a in survivors[0].alerts} == {"c", "m", "core"}


def test_flapping_alert_does_not_resolve_and_reopen_every_flip(org) -> None:  # type: ignore[no-untyped-def]
    engine = Correlator(
        org, EngineSettings(flapping={"max_flips": 2, "window": "10m"}), render=build_record
    )
    events = [alert("f", "mail-server", 0 * S)]
    for i in range(1, 8):
        status = "resolved" if i % 2 else "firing"
        events.append(
            alert(
                "f",
                "mail-server",
                i * M,
                status=status,
                started=(i - 1) * M if status == "resolved" else None,
            )
        )
    records = feed(engine, *events)
    statuses = [r.status for r in records]
    assert "resolved" not in statuses
    assert any(a.flapping for a in records[-1].alerts)
    # While it flapped, its flips published nothing beyond the moment it started flapping.
    flips_published = [r for r in records if "alert_flapping" in r.changes]
    assert len(flips_published) == 1
    assert len(records) <= 4
    # Quiet for a whole flapping window it settles (cleared), then after the hold-down the
    # incident resolves, once.
    later = [u.record for u in engine.tick(T0 + 40 * M)]
    assert [r.status for r in later] == ["open", "resolved"]
    assert "alert_resolved" in later[0].changes


def test_silenced_alert_is_kept_and_counted_but_opens_nothing(org) -> None:  # type: ignore[no-untyped-def]
    settings = EngineSettings(
        silences=[{"matchers": ['alertname="DiskFull"'], "ends_at": T0 + 30 * M}]
    )
    engine = Correlator(org, settings, render=build_record)
    assert feed(engine, alert("d", "dallas-printer", 0 * S, name="DiskFull")) == []
    assert engine.stats().suppressed_alerts == 1
    # When the silence ends and the alert still fires, it is no longer hidden.
    (update,) = engine.tick(T0 + 31 * M)
    assert update.record.root_cause.node == "dallas-printer"


def test_unmapped_alerts_group_by_label_and_are_flagged(engine: Correlator) -> None:
    labels = {"job": "billing-exporter"}
    records = feed(
        engine,
        alert("u1", None, 0 * S, name="HighLatency", labels=labels),
        alert("u2", None, 5 * S, name="ErrorRate", labels=labels),
        alert("u3", None, 5 * S, name="ErrorRate", labels={"job": "other"}),
    )
    final = latest(records)
    assert len(final) == 2
    assert all(r.unmapped for r in final.values())
    sizes = sorted(len(r.alerts) for r in final.values())
    assert sizes == [1, 2]


def test_label_mapping_uses_match_selectors_and_aliases(engine: Correlator) -> None:
    records = feed(
        engine,
        alert("x", None, 0 * S, labels={"job": "exchange-exporter"}),
        alert("y", None, 1 * S, labels={"instance": "crm.example.com:443"}),
    )
    nodes = sorted(a.node for r in latest(records).values() for a in r.alerts)
    assert nodes == ["crm-app", "mail-server"]


def test_priority_and_update_cadence(engine: Correlator) -> None:
    (record,) = feed(engine, alert("l1", "wan-dallas-nyc", 0 * S))
    assert (record.impact, record.urgency, record.priority) == (1, 1, 1)
    assert record.next_update_at == T0 + timedelta(minutes=30)
    (warning,) = feed(engine, alert("w", "crm-web-2", 1 * M, severity="warning"))
    assert (warning.impact, warning.urgency, warning.priority) == (3, 3, 5)
    assert warning.next_update_at == T0 + 1 * M + timedelta(hours=24)


def test_versions_count_up_only_on_changes(engine: Correlator) -> None:
    records = feed(
        engine,
        alert("a1", "crm-app", 0 * S),
        alert("a1", "crm-app", 0 * S),
        alert("a3", "crm-db", 30 * S),
    )
    assert [r.version for r in records] == [1, 2]
    assert records[1].changes and "alert_added" in records[1].changes


def test_snapshot_restore_continues_identically(org) -> None:  # type: ignore[no-untyped-def]
    events = [
        alert("a1", "crm-app", 0 * S),
        alert("a2", "reporting-app", 10 * S),
        alert("a3", "crm-db", 30 * S),
        alert("a3", "crm-db", 3 * M, status="resolved", started=30 * S),
        alert("a1", "crm-app", 3 * M, status="resolved", started=0 * S),
        alert("a2", "reporting-app", 4 * M, status="resolved", started=10 * S),
        alert("l", "wan-dallas-nyc", 20 * M),
    ]
    whole = Correlator(org, render=build_record)
    expected = [r.to_json() for r in feed(whole, *events)]
    for cut in range(len(events) + 1):
        first = Correlator(org, render=build_record)
        out = [r.to_json() for r in feed(first, *events[:cut])]
        second = Correlator(org, render=build_record)
        second.restore(first.snapshot())
        out += [r.to_json() for r in feed(second, *events[cut:])]
        assert out == expected, f"diverged after restoring at event {cut}"


def test_members_cleared_longer_than_the_window_stop_drawing_alerts_in(org) -> None:  # type: ignore[no-untyped-def]
    def run(window: str) -> int:
        engine = Correlator(org, EngineSettings(grouping={"window": window}), render=build_record)
        records = feed(
            engine,
            alert("core", "nyc-core", 0 * S),
            alert("mail", "mail-server", 10 * S),
            alert("core", "nyc-core", 1 * M, status="resolved", started=0 * S),
            alert("web", "crm-web-1", 30 * M),
        )
        return len(latest(records))

    # The mail alert keeps the incident open; the core switch cleared 29 minutes ago.
    assert run("15m") == 2
    assert run("60m") == 1
