"""The engine's state as key -> JSON-able value: whole (`snapshot`), as changes since the last
call (`take_state_changes`, for the changelog), and read back (`restore`).

Keys are `StateKey`s inside and text on the wire (`meta`, `incident/<id>`, `alert/<fp>`). Only
incidents (with their member alerts), alerts of no incident, the clock, the counters and the
tombstones are stored; every index and timer is rebuilt from them by `rebuild`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from correlator.core import membership
from correlator.core.keys import META, KeyKind, StateKey, alert_key, incident_key
from correlator.core.model import IncidentPhase, TimerKind
from correlator.core.state import AlertState, Incident
from correlator.core.store import Store
from correlator.core.timers import timers_for
from correlator.errors import CorrelatorError

#: A snapshot or changelog value: a JSON-able dict (None in a change: the key was deleted).
StateValue = dict[str, Any]


class StateFormatError(CorrelatorError):
    """A stored value is not what `snapshot` writes: the state read back is corrupt."""


def meta(st: Store) -> StateValue:
    return {
        "clock": st.clock.isoformat() if st.clock else None,
        "counters": dict(st.counters),
        "tombstones": {k: v.isoformat() for k, v in st.tombstones.items()},
    }


def snapshot(st: Store) -> dict[str, StateValue]:
    state: dict[str, StateValue] = {META.format(): meta(st)}
    for inc in st.incidents.values():
        state[incident_key(inc.id).format()] = inc.to_dict()
    for alert in st.alerts.values():
        if alert.incident_id is None:
            state[alert_key(alert.fingerprint).format()] = alert.to_dict()
    return state


def _value(st: Store, key: StateKey) -> StateValue | None:
    if key.kind is KeyKind.META:
        return meta(st)
    if key.kind is KeyKind.INCIDENT:
        inc = st.incidents.get(key.id)
        return inc.to_dict() if inc is not None else None
    alert = st.alerts.get(key.id)
    return alert.to_dict() if alert is not None and alert.incident_id is None else None


def take_changes(st: Store) -> dict[str, StateValue | None]:
    changes = {text: _value(st, key) for text, key in sorted((k.format(), k) for k in st.dirty)}
    st.dirty.clear()
    return changes


def _stored(key: str, value: object) -> StateValue:
    if not isinstance(value, dict):
        raise StateFormatError(f"state key {key!r} holds {type(value).__name__}, not an object")
    return value


def restore(st: Store, state: Mapping[str, object]) -> None:
    """Fill an empty store from `snapshot()` output (or a changelog read back key by key)."""
    raw = state.get(META.format())
    if raw:
        data = _stored(META.format(), raw)
        st.clock = datetime.fromisoformat(data["clock"]) if data["clock"] else None
        st.counters = Counter(data["counters"])
        st.tombstones = {k: datetime.fromisoformat(v) for k, v in data["tombstones"].items()}
    standalone: list[AlertState] = []
    for text, value in sorted(state.items()):
        key = StateKey.parse(text)
        if value is None or key is None:
            continue
        if key.kind is KeyKind.INCIDENT:
            inc = Incident.from_dict(_stored(text, value))
            st.incidents[inc.id] = inc
        elif key.kind is KeyKind.ALERT:
            standalone.append(AlertState.from_dict(_stored(text, value)))
    for inc in sorted(st.incidents.values(), key=lambda i: (i.opened_at, i.id)):
        for alert in inc.alerts.values():
            current = st.alerts.get(alert.fingerprint)
            if current is None or alert.starts_at >= current.starts_at:
                st.alerts[alert.fingerprint] = alert
    for alert in standalone:
        st.alerts[alert.fingerprint] = alert
    rebuild(st)
    st.dirty.clear()


def rebuild(st: Store) -> None:
    """Every index and timer, from the incidents and alerts (after a restore or a new topology)."""
    st.index = st.new_index()
    st.open = {i.id for i in st.incidents.values() if i.status == IncidentPhase.OPEN}
    st.unmapped_open.clear()
    st.resolved_by_root.clear()
    st.timers.clear()
    for inc in st.incidents.values():
        for state in inc.alerts.values():
            state.indexed = False
    for inc in sorted(st.incidents.values(), key=lambda i: (i.opened_at, i.id)):
        if inc.status == IncidentPhase.OPEN:
            for state in inc.alerts.values():
                membership.index(st, inc.id, state)
                if (
                    state.node is not None
                    and state.node in st.topology.nodes
                    and state.active
                    and st.alerts.get(state.fingerprint) is state
                ):
                    st.index.set_active(state.node, +1)
                # A stale timer only ever unindexes, so a member that is not indexed needs none.
                st.timers.schedule(
                    t
                    for t in timers_for(state, st.settings)
                    if t.kind is not TimerKind.STALE or state.indexed
                )
            if inc.unmapped_key:
                st.unmapped_open[inc.unmapped_key] = inc.id
        elif inc.status == IncidentPhase.RESOLVED and inc.resolved_at is not None:
            for root in inc.assessment.root_nodes:
                st.resolved_by_root.setdefault(root, set()).add(inc.id)
        st.timers.schedule(timers_for(inc, st.settings))
    for state in st.alerts.values():
        if state.incident_id is None:
            st.timers.schedule(timers_for(state, st.settings, st.silences, st.clock))
