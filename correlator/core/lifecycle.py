"""The incident lifecycle: open -> (merged | resolved -> (reopened | forgotten)).

`TRANSITIONS` is the whole state machine in one table (from status -> event -> to status;
`None` as a status means "not held"). Every function below makes exactly one of its moves and
keeps the indexes that depend on the status in step with it.
"""

from __future__ import annotations

import hashlib
import heapq
from datetime import datetime
from enum import StrEnum
from typing import Final

from correlator.core import assess, membership, publish, recurrence
from correlator.core.keys import alert_key, incident_key
from correlator.core.model import Change, IncidentPhase
from correlator.core.state import AlertState, Incident
from correlator.core.store import IncidentUpdate, Store
from correlator.core.timers import timers_for
from correlator.errors import CorrelatorError
from correlator.rules.reopen import cause_is_back

# A forgotten alert's end is remembered for `lifecycle.tombstone_ttl`, at most
# `bounds.max_tombstones` of them (the oldest go first), so that a firing re-send delivered
# late (after its incident was resolved and forgotten) is recognised as stale.

#: Tombstones are swept only once there are this many, so a quiet engine never pays for it.
TOMBSTONE_SWEEP_AT = 1024


class Event(StrEnum):
    OPEN = "open"
    """a news alert joins no open incident and reopens none"""
    MERGE = "merge"
    """an alert relates two open incidents: the younger is absorbed into the older"""
    RESOLVE = "resolve"
    """the hold-down passed with no alert active"""
    REOPEN = "reopen"
    """a news alert on the same root cause within the reopen window"""
    FORGET = "forget"
    """the reopen window closed"""


TRANSITIONS: Final[dict[IncidentPhase | None, dict[Event, IncidentPhase | None]]] = {
    None: {Event.OPEN: IncidentPhase.OPEN},
    IncidentPhase.OPEN: {Event.MERGE: IncidentPhase.MERGED, Event.RESOLVE: IncidentPhase.RESOLVED},
    IncidentPhase.RESOLVED: {Event.REOPEN: IncidentPhase.OPEN, Event.FORGET: None},
    IncidentPhase.MERGED: {},
}


class LifecycleError(CorrelatorError):
    """A move the table does not allow: a bug in the engine, never bad input."""


def next_status(status: IncidentPhase | None, event: Event) -> IncidentPhase | None:
    """The status `event` leads to from `status`, per `TRANSITIONS`."""
    moves = TRANSITIONS[status]
    if event not in moves:
        raise LifecycleError(f"an incident that is {status or 'not held'} cannot {event}")
    return moves[event]


def _move(inc: Incident, event: Event) -> None:
    status = next_status(inc.status, event)
    assert status is not None  # forgetting deletes the incident instead
    inc.status = status


def incident_id(alert: AlertState) -> str:
    """Stable across restarts and replays: derived from the alert occurrence that opened it."""
    digest = hashlib.blake2b(
        f"{alert.fingerprint}|{alert.starts_at.isoformat()}".encode(), digest_size=8
    ).hexdigest()
    return f"INC-{digest.upper()}"


def joinable(st: Store, inc: Incident, now: datetime) -> bool:
    """An open incident takes new alerts while it has active ones or was active lately."""
    if inc.quiet_since is None:
        return True
    return now - inc.quiet_since <= st.settings.grouping.window


def reopenable(st: Store, node: str, now: datetime) -> Incident | None:
    """The most recently resolved incident, within the reopen window, whose root cause is
    this node or one of its causes."""
    window = st.settings.lifecycle.reopen_window
    best: Incident | None = None
    for root in (node, *st.index.causes(node)):
        for inc_id in st.resolved_by_root.get(root, ()):
            inc = st.incidents.get(inc_id)
            if inc is None or inc.status != IncidentPhase.RESOLVED or inc.resolved_at is None:
                continue
            if now - inc.resolved_at > window:
                continue
            # Being able to explain the new alert is not enough: the old cause must be back.
            if not cause_is_back(st.index, root, node, now):
                continue
            if best is None or (inc.resolved_at, inc.id) > (best.resolved_at or now, best.id):
                best = inc
    return best


def open_incident(st: Store, state: AlertState, now: datetime) -> Incident:
    opened = min(state.starts_at, now)
    status = next_status(None, Event.OPEN)
    assert status is not None
    inc = Incident(id=incident_id(state), opened_at=opened, updated_at=now, anchor=opened)
    inc.status = status
    inc.cost_since = opened
    st.incidents[inc.id] = inc
    st.open.add(inc.id)
    st.touch(inc, Change.OPENED)
    return inc


def merge(st: Store, absorbed: Incident, survivor: Incident, now: datetime) -> None:
    """`absorbed` publishes its last version (status merged) and its alerts join `survivor`."""
    # Always re-assessed: a restored engine holds no assessment to reuse, and must say the same.
    assess.run(st, absorbed, now)
    _move(absorbed, Event.MERGE)
    absorbed.merged_into = survivor.id
    touched = st.touched.pop(absorbed.id, set())
    touched.add(Change.MERGED)
    st.outbox.append(IncidentUpdate(publish.emit(st, absorbed, now, touched)))
    for state in list(absorbed.alerts.values()):
        membership.unindex(st, absorbed.id, state)
        if state.incident_id == absorbed.id:
            membership.add(st, survivor, state, Change.MERGED_IN, already_active=True)
    if absorbed.unmapped_key and st.unmapped_open.get(absorbed.unmapped_key) == absorbed.id:
        del st.unmapped_open[absorbed.unmapped_key]
    del st.incidents[absorbed.id]
    st.structures.pop(absorbed.id, None)
    st.open.discard(absorbed.id)
    st.dirty.add(incident_key(absorbed.id))
    st.counters["incidents_merged"] += 1


def reopen(st: Store, inc: Incident, now: datetime) -> None:
    unindex_resolved(st, inc)
    _move(inc, Event.REOPEN)
    st.open.add(inc.id)
    inc.resolved_at = None
    inc.quiet_since = None
    inc.reopened += 1
    inc.anchor = now
    inc.cost_since = now
    for state in inc.alerts.values():
        membership.index(st, inc.id, state)
    st.touch(inc, Change.REOPENED)
    st.counters["incidents_reopened"] += 1


def maybe_quiet(st: Store, inc: Incident, since: datetime) -> None:
    """Start the hold-down once no alert of an open incident is active."""
    if inc.status == IncidentPhase.OPEN and not inc.has_active:
        inc.quiet_since = since
        st.timers.schedule(timers_for(inc, st.settings))


def resolve(st: Store, inc: Incident, at: datetime) -> bool:
    """The hold-down timer: resolve `inc` if it is still quiet and the hold-down has passed
    (True when it did)."""
    if (
        inc.status != IncidentPhase.OPEN
        or inc.quiet_since is None
        or inc.has_active
        or inc.quiet_since + st.settings.lifecycle.hold_down > at
    ):
        return False
    resolved_at = inc.quiet_since
    assess.accrue(inc, resolved_at)
    inc.cost_since = None
    _move(inc, Event.RESOLVE)
    st.open.discard(inc.id)
    inc.resolved_at = resolved_at
    for state in inc.alerts.values():
        membership.unindex(st, inc.id, state)
    if inc.unmapped_key and st.unmapped_open.get(inc.unmapped_key) == inc.id:
        del st.unmapped_open[inc.unmapped_key]
    for root in inc.assessment.root_nodes:
        st.resolved_by_root.setdefault(root, set()).add(inc.id)
    recurrence.note_resolved(st, inc, resolved_at)
    st.timers.schedule(timers_for(inc, st.settings))
    st.touch(inc, Change.RESOLVED)
    st.counters["incidents_resolved"] += 1
    return True


def unindex_resolved(st: Store, inc: Incident) -> None:
    for root in inc.assessment.root_nodes:
        ids = st.resolved_by_root.get(root)
        if ids is not None:
            ids.discard(inc.id)
            if not ids:
                del st.resolved_by_root[root]


def forget(st: Store, inc: Incident, at: datetime) -> None:
    """The forget timer: drop a resolved incident whose reopen window has closed."""
    window = st.settings.lifecycle.reopen_window
    if inc.status != IncidentPhase.RESOLVED or inc.resolved_at is None:
        return
    if inc.resolved_at + window > at:
        return
    next_status(inc.status, Event.FORGET)
    unindex_resolved(st, inc)
    for state in inc.alerts.values():
        if st.alerts.get(state.fingerprint) is state:
            forget_alert(st, state)
    del st.incidents[inc.id]
    st.structures.pop(inc.id, None)
    st.dirty.add(incident_key(inc.id))


def forget_alert(st: Store, state: AlertState) -> None:
    if st.alerts.get(state.fingerprint) is state:
        del st.alerts[state.fingerprint]
    if state.ends_at is not None:
        st.tombstones.pop(state.fingerprint, None)  # re-inserted last: the dict stays in age order
        st.tombstones[state.fingerprint] = state.ends_at
        heapq.heappush(st.tombstone_expiry, (state.ends_at, state.fingerprint))
        if len(st.tombstone_expiry) > 2 * len(st.tombstones) + TOMBSTONE_SWEEP_AT:
            st.reindex_tombstones()  # drop the skipped entries: the heap stays O(tombstones)
        while len(st.tombstones) > st.settings.bounds.max_tombstones:
            oldest = next(iter(st.tombstones))
            del st.tombstones[oldest]
            st.dirty.add(alert_key(oldest))
    st.dirty.add(alert_key(state.fingerprint))


def expire_tombstones(st: Store, now: datetime) -> None:
    if len(st.tombstones) < TOMBSTONE_SWEEP_AT:
        return
    horizon = now - st.settings.lifecycle.tombstone_ttl
    heap = st.tombstone_expiry
    while heap and heap[0][0] < horizon:
        ended, fp = heapq.heappop(heap)
        if st.tombstones.get(fp) != ended:
            continue  # evicted by the cap, or forgotten again with another end, since
        del st.tombstones[fp]
        if fp not in st.alerts:
            st.dirty.add(alert_key(fp))
