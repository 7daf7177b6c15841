"""Timers: what each item needs (`timers_for`), the order they fire in, and that a restored
engine fires them exactly as the engine it replaces."""

from __future__ import annotations

from datetime import timedelta

from correlator.core import Correlator
from correlator.core.model import AlertPhase, IncidentPhase, TimerKind
from correlator.core.settings import EngineSettings, Silence
from correlator.core.state import AlertState, Incident
from correlator.core.timers import Timer, TimerWheel, timers_for
from correlator.rules.suppression import compile_silences
from correlator.wire.render.record import build_record
from tests.unit.engine.conftest import T0, alert, feed
from topology import Topology

M = timedelta(minutes=1)
S = EngineSettings()


def member(**changes: object) -> AlertState:
    base = AlertState(
        fingerprint="fp",
        name="Down",
        node="crm-db",
        severity="critical",
        status=AlertPhase.FIRING,
        starts_at=T0,
        ends_at=None,
        summary="",
        source="test",
        labels={},
        last_seen=T0,
        incident_id="INC-1",
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_a_firing_alert_needs_no_timer() -> None:
    assert timers_for(member(), S) == []


def test_a_resolved_member_goes_stale_after_the_grouping_window() -> None:
    ended = member(status=AlertPhase.RESOLVED, ends_at=T0 + 5 * M)
    assert timers_for(ended, S) == [Timer(T0 + 5 * M + S.grouping.window, TimerKind.STALE, "fp")]


def test_a_flapping_alert_is_checked_one_window_after_its_last_flip() -> None:
    flapping = member(status=AlertPhase.RESOLVED, ends_at=T0, flapping=True, flips=[T0])
    # still active while flapping, so not stale yet
    assert timers_for(flapping, S) == [Timer(T0 + S.flapping.window, TimerKind.SETTLE, "fp")]


def test_a_muted_alert_is_reconsidered_when_its_first_silence_ends() -> None:
    silences = compile_silences(
        [Silence(nodes=["crm-db"], ends_at=T0 + 60 * M), Silence(nodes=["san"], ends_at=T0 + M)],
        [],
    )
    muted = member(suppressed_by="silence:silence-1", incident_id=None)
    assert timers_for(muted, S, silences, T0) == [Timer(T0 + M, TimerKind.UNMUTE, "fp")]
    assert timers_for(muted, S, silences, T0 + 2 * M) == [
        Timer(T0 + 60 * M, TimerKind.UNMUTE, "fp")
    ]
    assert timers_for(muted, S, silences, None) == []


def test_incidents_need_a_hold_down_when_quiet_and_a_forget_when_resolved() -> None:
    inc = Incident(id="INC-1", opened_at=T0, updated_at=T0)
    assert timers_for(inc, S) == []
    inc.quiet_since = T0 + M
    assert timers_for(inc, S) == [
        Timer(T0 + M + S.lifecycle.hold_down, TimerKind.HOLD_DOWN, "INC-1")
    ]
    inc.status = IncidentPhase.RESOLVED
    inc.resolved_at = T0 + 7 * M
    assert timers_for(inc, S) == [
        Timer(T0 + 7 * M + S.lifecycle.reopen_window, TimerKind.FORGET, "INC-1")
    ]


def test_timers_due_together_fire_by_kind_then_key_not_by_scheduling_order() -> None:
    wheel = TimerWheel()
    due = [
        Timer(T0, TimerKind.UNMUTE, "a"),
        Timer(T0, TimerKind.STALE, "b"),
        Timer(T0, TimerKind.STALE, "a"),
        Timer(T0, TimerKind.FORGET, "z"),
        Timer(T0 - M, TimerKind.UNMUTE, "x"),
        Timer(T0 + M, TimerKind.FORGET, "later"),
    ]
    wheel.schedule(due)
    fired = []
    while (timer := wheel.pop_due(T0)) is not None:
        fired.append((timer.kind.value, timer.key))
    assert fired == [
        ("unmute", "x"),
        ("forget", "z"),
        ("stale", "a"),
        ("stale", "b"),
        ("unmute", "a"),
    ]
    assert len(wheel) == 1


def test_kind_values_keep_their_alphabetical_order() -> None:
    # Ties between timers are broken by these values; reordering them would change output.
    values = [k.value for k in TimerKind]
    assert values == sorted(values)


def test_a_restored_engine_fires_pending_timers_like_the_original(org: Topology) -> None:
    settings = EngineSettings(flapping={"max_flips": 2, "window": "10m"})
    events = [alert("a", "crm-db", 0 * M), alert("b", "crm-app", 1 * M)]
    for i in range(3):  # crm-app flaps
        events.append(alert("b", "crm-app", (2 + 2 * i) * M, status="resolved", started=1 * M))
        events.append(alert("b", "crm-app", (3 + 2 * i) * M))
    events.append(alert("b", "crm-app", 8 * M, status="resolved", started=7 * M))
    events.append(alert("a", "crm-db", 9 * M, status="resolved", started=0 * M))
    original = Correlator(org, settings, render=build_record)
    feed(original, *events)
    restored = Correlator(org, settings, render=build_record)
    restored.restore(original.snapshot())
    published: list[list[str]] = []
    for minutes in (14, 19, 29, 49, 89):
        mine = [u.record for u in original.tick(T0 + minutes * M)]
        assert [u.record for u in restored.tick(T0 + minutes * M)] == mine
        published.extend(r.changes for r in mine)
        assert restored.snapshot() == original.snapshot()
    # pending: the settle (18 min), the hold-down (23 min), the forget (53 min)
    assert published == [["alert_resolved"], ["resolved", "status"]]
    assert original.incidents == {}
