"""What the engine holds at most, and the times it accepts (RELIABILITY.md, docs/worker.md).

No single message and no sequence of messages may stop the engine or grow it without end:

* **event times** outside `[EVENT_TIME_MIN, EVENT_TIME_MAX)` are refused by the decoders, and the
  worker and `replay` also refuse times too far from their clock (`event_time_problem`); the
  engine clock is clamped into the range anyway (`clamp`), so a checkpoint saved by an older
  version with a poisoned clock cannot overflow the timer arithmetic after a restore;
* **stale alerts**: a firing alert from a source that re-sends (Alertmanager re-sends every
  `repeat_interval`, and at least every `resolve_timeout`) that was not seen for
  `BoundSettings.stale_after` is resolved as stale (`sweep`), as Alertmanager itself resolves
  an alert Prometheus stopped sending;
* **held alerts**: at `BoundSettings.max_alerts` a new alert is counted (`alerts_dropped_cap`)
  and dropped; alerts already held keep being updated and resolved (`admit`).

The counters these keep are in `Correlator.counters` (`alerts_expired_stale`,
`alerts_dropped_cap`); the worker exports them as metrics.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from correlator.core.model import Alert, AlertPhase, utc
from correlator.core.store import Store

#: The earliest and latest event time anything accepts. The latest leaves the engine's timer
#: arithmetic (windows of hours to days added to the clock) centuries of room before
#: `datetime.max`; the earliest is the Unix epoch, before which no monitoring system ran.
EVENT_TIME_MIN: Final = datetime(1970, 1, 1, tzinfo=UTC)
EVENT_TIME_MAX: Final = datetime(2200, 1, 1, tzinfo=UTC)

#: `sweep` walks every alert; doing it at most this often (in event time) keeps it off the
#: hot path: 100k held alerts take ~20 ms to walk.
SWEEP_EVERY: Final = timedelta(minutes=1)


def clamp(when: datetime) -> datetime:
    """`when` moved into the accepted range (only a corrupt state is ever moved)."""
    when = utc(when)
    if when < EVENT_TIME_MIN:
        return EVENT_TIME_MIN
    if when >= EVENT_TIME_MAX:
        return EVENT_TIME_MAX
    return when


def add(when: datetime, delta: timedelta) -> datetime:
    """`when + delta`, saturating at datetime's own limits instead of raising OverflowError."""
    try:
        return when + delta
    except OverflowError:
        edge = datetime.max if delta > timedelta(0) else datetime.min
        return edge.replace(tzinfo=when.tzinfo)


def in_range(when: datetime) -> bool:
    return EVENT_TIME_MIN <= utc(when) < EVENT_TIME_MAX


def event_time_problem(
    alert: Alert,
    *,
    now: datetime,
    max_future: timedelta,
    written: datetime | None = None,
    max_past: timedelta | None = None,
) -> str | None:
    """Why the alert's times are not acceptable, or None when they are.

    Every time it carries must be in range and at most `max_future` ahead of `now` (the wall
    clock in the worker, the latest event time in replay). A resolve must also end at most
    `max_past` before `written`, when the record was written (its Kafka timestamp): measured
    from there, a backlog read a month late is not refused. A firing alert's start is never
    held to `max_past`: Alertmanager re-sends a long-running alert with its original start."""
    for name, when in (("starts_at", alert.starts_at), ("ends_at", alert.ends_at)):
        if when is None:
            continue
        if not in_range(when):
            return f"{name} {when.isoformat()} outside {EVENT_TIME_MIN.year}-{EVENT_TIME_MAX.year}"
        ahead = utc(when) - now
        if ahead > max_future:
            return f"{name} {when.isoformat()} is {_span(ahead)} ahead of the clock"
    if max_past is not None and written is not None and alert.status == "resolved":
        behind = written - utc(alert.event_time)
        if behind > max_past:
            return f"ends_at {alert.event_time.isoformat()} is {_span(behind)} before it was sent"
    return None


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86_400:
        return f"{seconds // 86_400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    return f"{seconds}s"


def refuse(st: Store, alert: Alert) -> bool:
    """True when a new alert must be dropped because the engine holds `max_alerts` already
    (counted in `alerts_dropped_cap`). Known alerts and resolves always pass: they only ever
    shrink what is held."""
    if alert.fingerprint in st.alerts or alert.status == "resolved":
        return False
    if len(st.alerts) < st.settings.bounds.max_alerts:
        return False
    st.counters["alerts_dropped_cap"] += 1
    return True


def stale_resolves(st: Store, now: datetime) -> list[Alert]:
    """Resolves for the firing alerts of re-sending sources not seen for `stale_after`; their
    end is when they were last seen plus `stale_after` (the same in replay and live)."""
    bounds = st.settings.bounds
    after = bounds.stale_after
    if after is None:
        return []
    sources = bounds.stale_sources
    out: list[Alert] = []
    for state in st.alerts.values():
        if state.status != AlertPhase.FIRING or state.source not in sources:
            continue
        if now - state.last_seen < after:
            continue
        ends = min(add(state.last_seen, after), now)
        out.append(
            Alert(
                fingerprint=state.fingerprint,
                name=state.name,
                status="resolved",
                severity=state.severity,
                summary=state.summary,
                source=state.source,
                labels=state.labels,
                starts_at=state.starts_at,
                ends_at=max(ends, state.starts_at),
            )
        )
    st.counters["alerts_expired_stale"] += len(out)
    return out


__all__ = [
    "EVENT_TIME_MAX",
    "EVENT_TIME_MIN",
    "SWEEP_EVERY",
    "add",
    "clamp",
    "event_time_problem",
    "in_range",
    "refuse",
    "stale_resolves",
]
