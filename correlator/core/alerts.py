"""One alert event against what the engine knows of that alert (the `dedup` verdict), and the
flapping timer. News goes on through `pipeline.ALERT_STAGES`; the rest changes the alert in
place and touches its incident.
"""

from __future__ import annotations

from datetime import datetime

from correlator.core import lifecycle, membership, pipeline
from correlator.core.keys import alert_key
from correlator.core.model import Alert, AlertPhase, Change, IncidentPhase, utc
from correlator.core.state import AlertState
from correlator.core.store import Store
from correlator.core.timers import timers_for
from correlator.rules import dedup, flapping
from correlator.rules.dedup import Verdict
from correlator.rules.mapping import map_alert


def apply(st: Store, alert: Alert, now: datetime) -> None:
    known = st.alerts.get(alert.fingerprint)
    verdict = dedup.classify(known, alert)
    if known is None and verdict is Verdict.NEW:
        ended = st.tombstones.get(alert.fingerprint)
        if ended is not None and alert.starts_at <= ended:
            verdict = Verdict.STALE
    st.counters[f"alerts_{verdict.value}"] += 1
    if verdict not in (Verdict.STALE, Verdict.RESEND):
        st.dirty.add(alert_key(alert.fingerprint))
    if verdict is Verdict.NEW:
        pipeline.admit(st, new_state(st, alert, now), now)
    elif known is None or verdict in (Verdict.STALE, Verdict.RESEND):
        if known is not None:
            known.last_seen = now
    elif verdict is Verdict.SEVERITY_CHANGED:
        was = membership.before(known)
        known.severity = alert.severity
        known.last_seen = now
        inc = st.incidents.get(known.incident_id) if known.incident_id else None
        if inc is not None and inc.alerts.get(known.fingerprint) is known:
            membership.account(inc, known, was)
        _touch_alert(st, known, Change.SEVERITY_CHANGED)
    elif verdict is Verdict.RESOLVED:
        _resolve(st, known, alert, now)
    else:
        _refire(st, known, alert, now)


def new_state(st: Store, alert: Alert, now: datetime) -> AlertState:
    """A new occurrence, placed on the topology by the `mapping` rule."""
    return AlertState(
        fingerprint=alert.fingerprint,
        name=alert.name,
        node=map_alert(st.topology, alert),
        severity=alert.severity,
        status=AlertPhase.FIRING,
        starts_at=utc(alert.starts_at),
        ends_at=None,
        summary=alert.summary,
        source=alert.source,
        labels=dict(alert.labels),
        last_seen=now,
    )


def _resolve(st: Store, known: AlertState, alert: Alert, now: datetime) -> None:
    was_active = known.active
    was = membership.before(known)
    known.status = AlertPhase.RESOLVED
    known.ends_at = utc(alert.ends_at) if alert.ends_at is not None else now
    known.last_seen = now
    if known.suppressed_by is not None or known.incident_id is None:
        lifecycle.forget_alert(st, known)
        return
    started = flapping.record_flip(known, now, st.settings.flapping)
    inc = st.incidents.get(known.incident_id)
    if inc is None:
        return
    membership.account(inc, known, was)
    if was_active and not known.active and known.node is not None:
        st.index.set_active(known.node, -1)
    st.timers.schedule(timers_for(known, st.settings))
    if known.flapping:
        st.touch(inc, Change.ALERT_FLAPPING if started else None)
        return
    st.touch(inc, Change.ALERT_RESOLVED)
    lifecycle.maybe_quiet(st, inc, min(known.ends_at, now))


def _refire(st: Store, known: AlertState, alert: Alert, now: datetime) -> None:
    inc = st.incidents.get(known.incident_id) if known.incident_id else None
    if inc is None or inc.status != IncidentPhase.OPEN or known.suppressed_by is not None:
        # Its incident is resolved or gone: the new occurrence goes through grouping again
        # (which may reopen that incident); the old incident keeps its history.
        fresh = new_state(st, alert, now)
        fresh.occurrences = known.occurrences + 1
        fresh.flips = list(known.flips)
        fresh.node = known.node if known.node is not None else fresh.node
        pipeline.admit(st, fresh, now)
        return
    was_active = known.active
    was = membership.before(known)
    known.status = AlertPhase.FIRING
    known.starts_at = utc(alert.starts_at)
    known.ends_at = None
    known.last_seen = now
    known.occurrences += 1
    if alert.severity != known.severity:
        known.severity = alert.severity
    started = flapping.record_flip(known, now, st.settings.flapping)
    membership.account(inc, known, was)
    if not was_active and known.node is not None:
        st.index.set_active(known.node, +1)
    if known.node is not None:
        st.index.note_onset(known.node, known.starts_at)
    membership.index(st, inc.id, known)
    inc.quiet_since = None
    st.timers.schedule(timers_for(known, st.settings))
    if known.flapping:
        st.touch(inc, Change.ALERT_FLAPPING if started else None)
    else:
        st.touch(inc, Change.ALERT_REFIRED)


def _touch_alert(st: Store, state: AlertState, change: Change) -> None:
    if state.incident_id is None:
        return
    inc = st.incidents.get(state.incident_id)
    if inc is not None:
        st.touch(inc, change)


def settle(st: Store, fingerprint: str, when: datetime) -> None:
    """The settle timer: a flapping alert quiet for a whole window stops flapping."""
    state = st.alerts.get(fingerprint)
    if state is None or not flapping.settles(state, when, st.settings.flapping):
        return
    was = membership.before(state)
    state.flapping = False
    st.dirty.add(alert_key(fingerprint))
    inc = st.incidents.get(state.incident_id) if state.incident_id else None
    if inc is None:
        return
    membership.account(inc, state, was)
    if state.status == AlertPhase.RESOLVED:
        if state.node is not None:
            st.index.set_active(state.node, -1)
        st.touch(inc, Change.ALERT_RESOLVED)
        st.timers.schedule(timers_for(state, st.settings))
        lifecycle.maybe_quiet(st, inc, when)
    else:
        st.touch(inc, None)


def unmute(st: Store, fingerprint: str, when: datetime) -> bool:
    """The unmute timer: a muted alert still firing when its silence ends is admitted again.
    True when it was (so there may be something to publish)."""
    state = st.alerts.get(fingerprint)
    if state is None or state.suppressed_by is None or not state.active:
        return False
    pipeline.admit(st, state, when)
    return True
