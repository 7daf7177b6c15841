"""The engine clock: event time first, the wall clock only while idle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from correlator.worker.eventtime import EventClock

T = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)


def test_the_clock_follows_events_and_never_goes_back() -> None:
    clock = EventClock()
    assert clock.idle_now(0) is None
    assert clock.on_event(T, 0) == T
    assert clock.on_event(T - timedelta(minutes=5), 1) == T  # late event: ingested at now
    assert clock.on_event(T + timedelta(minutes=1), 2) == T + timedelta(minutes=1)


def test_idle_time_is_added_from_the_last_event_by_the_wall_clock() -> None:
    clock = EventClock()
    clock.on_event(T, 100.0)
    assert clock.idle_now(160.0) == T + timedelta(seconds=60)
    # a late event does not move the anchor back
    clock.on_event(T + timedelta(seconds=10), 170.0)
    assert clock.idle_now(170.0) == T + timedelta(seconds=70)
    assert clock.idle_for(175.0) == 5.0


def test_rate_speeds_idle_time_up_for_demos() -> None:
    clock = EventClock(rate=60)
    clock.on_event(T, 0.0)
    assert clock.idle_now(5.0) == T + timedelta(minutes=5)


def test_restored_clock_resumes_from_the_checkpoint() -> None:
    clock = EventClock(T, mono=50.0)
    assert clock.now == T
    assert clock.idle_now(80.0) == T + timedelta(seconds=30)
