"""The rules pipeline, as the engine runs it.

Every alert first passes `dedup` (`correlator.rules.dedup`: re-sends and stale events stop
there) and, when it is a new occurrence, `mapping` (which topology node it speaks of; done once,
when the engine first records the occurrence). Then an alert that is news runs `ALERT_STAGES`
in order, and every incident those stages touched runs `INCIDENT_STAGES` before it is
published:

    mapping -> suppression -> grouping    (per alert)
    root cause -> impact -> priority -> assignment    (per touched incident)

A stage is any function `(store, item, now) -> bool`; False ends the run for that item (a
muted alert stops after suppression). The rules themselves are plain functions and small
indexes in `correlator.rules`; the stages here only apply them to the engine's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from correlator.core import lifecycle, membership
from correlator.core.assess import INCIDENT_STAGES, Stage
from correlator.core.keys import alert_key, incident_key
from correlator.core.model import Change, IncidentPhase
from correlator.core.state import AlertState
from correlator.core.store import Store
from correlator.core.timers import timers_for
from correlator.rules.mapping import unmapped_key
from correlator.rules.suppression import muted_by


def suppression(st: Store, state: AlertState, now: datetime) -> bool:
    """A muted alert is kept and counted but opens nothing, until its silence ends."""
    muted = (
        muted_by(st.silences, state.name, state.labels, state.node, now) if st.silences else None
    )
    if muted is not None:
        state.suppressed_by = muted
        st.counters["alerts_suppressed"] += 1
        st.dirty.add(alert_key(state.fingerprint))
        st.timers.schedule(timers_for(state, st.settings, st.silences, now))
        return False
    if state.suppressed_by is not None:
        st.dirty.add(alert_key(state.fingerprint))
    state.suppressed_by = None
    return True


def grouping(st: Store, state: AlertState, now: datetime) -> bool:
    """Join the open incident(s) the alert relates to (merging them), else reopen or open one."""
    if state.node is None:
        state.unmapped_key = unmapped_key(state.name, state.labels)
        _join_unmapped(st, state, now)
    else:
        _join_related(st, state, state.node, now)
    return True


def _join_unmapped(st: Store, state: AlertState, now: datetime) -> None:
    key = state.unmapped_key or f"alertname={state.name}"
    inc_id = st.unmapped_open.get(key)
    inc = st.incidents.get(inc_id) if inc_id else None
    if inc is None or inc.status != IncidentPhase.OPEN or not lifecycle.joinable(st, inc, now):
        inc = lifecycle.open_incident(st, state, now)
        inc.unmapped_key = key
        st.unmapped_open[key] = inc.id
    membership.add(st, inc, state, Change.ALERT_ADDED)


def _join_related(st: Store, state: AlertState, node: str, now: datetime) -> None:
    st.index.set_active(node, +1)
    related = [
        st.incidents[i]
        for i in st.index.related_incidents(node, state.starts_at)
        if i in st.incidents
        and st.incidents[i].status == IncidentPhase.OPEN
        and lifecycle.joinable(st, st.incidents[i], now)
    ]
    if not related:
        reopened = lifecycle.reopenable(st, node, now)
        if reopened is not None:
            lifecycle.reopen(st, reopened, now)
            related = [reopened]
    if not related:
        inc = lifecycle.open_incident(st, state, now)
    else:
        related.sort(key=lambda i: (i.opened_at, i.id))
        inc = related[0]
        for other in related[1:]:
            lifecycle.merge(st, other, inc, now)
    membership.add(st, inc, state, Change.ALERT_ADDED, already_active=True)


ALERT_STAGES: Final[Sequence[Stage[AlertState]]] = (suppression, grouping)

#: Re-exported so the whole order reads in one place; defined beside the stages it lists.
__all__ = ["ALERT_STAGES", "INCIDENT_STAGES", "admit"]


def admit(st: Store, state: AlertState, now: datetime) -> None:
    """Hold an alert occurrence that is news and run it through `ALERT_STAGES`."""
    fp = state.fingerprint
    old = st.alerts.get(fp)
    st.alerts[fp] = state
    st.dirty.add(alert_key(fp))
    if old is not None and old is not state and old.incident_id is not None:
        # The earlier occurrence stays in its incident's history, stored in that header now.
        holder = st.incidents.get(old.incident_id)
        if holder is not None and holder.alerts.get(fp) is old:
            holder.detached.add(fp)
            st.dirty.add(incident_key(holder.id))
    for stage in ALERT_STAGES:
        if not stage(st, state, now):
            return
