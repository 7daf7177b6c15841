"""The engine's state as key -> JSON-able value: whole (`snapshot`), as changes since the last
call (`take_state_changes`, for the changelog), and read back (`restore`).

Keys are `StateKey`s inside and text on the wire. What each key holds, so that one change costs
one small record whatever the incident's size:

* `meta`: the clock and the counters (nothing that grows);
* `incident/<id>`: a compact header (`Incident.to_dict`): lifecycle fields, the few assessment
  figures that are compared against before the next assessment, the fingerprint of the last
  published desk fields; no member alerts, no affected lists (recomputed before any publish);
* `alert/<fp>`: the alert's current occurrence (its `incident_id` and `seq` place it among its
  incident's members), or `{"v": 2, "tombstone": <end>}` for a forgotten alert, deleted when the
  tombstone expires;
* `recurrence/<node>`: recent resolutions of incidents with that root cause.

Every index and timer is rebuilt from them by `rebuild`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from correlator.core import membership, recurrence
from correlator.core.keys import META, KeyKind, StateKey, alert_key, incident_key, recurrence_key
from correlator.core.model import IncidentPhase, TimerKind
from correlator.core.state import FORMAT_VERSION, AlertState, Incident
from correlator.core.store import Store
from correlator.core.timers import timers_for
from correlator.errors import CorrelatorError

#: A snapshot or changelog value: a JSON-able dict (None in a change: the key was deleted).
StateValue = dict[str, Any]


class StateFormatError(CorrelatorError):
    """A stored value is not what `snapshot` writes: the state read back is corrupt."""


def meta(st: Store) -> StateValue:
    return {
        "v": FORMAT_VERSION,
        "clock": st.clock.isoformat() if st.clock else None,
        "counters": dict(sorted(st.counters.items())),
    }


def _alert_value(st: Store, fp: str) -> StateValue | None:
    alert = st.alerts.get(fp)
    if alert is not None:
        return alert.to_dict()
    ended = st.tombstones.get(fp)
    return {"v": FORMAT_VERSION, "tombstone": ended.isoformat()} if ended is not None else None


def snapshot(st: Store) -> dict[str, StateValue]:
    state: dict[str, StateValue] = {META.format(): meta(st)}
    for inc in st.incidents.values():
        state[incident_key(inc.id).format()] = inc.to_dict()
    for fp in (*st.alerts, *st.tombstones):
        value = _alert_value(st, fp)
        if value is not None:
            state[alert_key(fp).format()] = value
    for node, history in st.recurrence.items():
        state[recurrence_key(node).format()] = recurrence.to_value(history)
    return state


def _value(st: Store, key: StateKey) -> StateValue | None:
    if key.kind is KeyKind.META:
        return meta(st)
    if key.kind is KeyKind.INCIDENT:
        inc = st.incidents.get(key.id)
        return inc.to_dict() if inc is not None else None
    if key.kind is KeyKind.RECURRENCE:
        history = st.recurrence.get(key.id)
        return recurrence.to_value(history) if history else None
    return _alert_value(st, key.id)


def take_changes(st: Store) -> dict[str, StateValue | None]:
    changes = {text: _value(st, key) for text, key in sorted((k.format(), k) for k in st.dirty)}
    st.dirty.clear()
    return changes


def _stored(key: str, value: object) -> StateValue:
    if not isinstance(value, dict):
        raise StateFormatError(f"state key {key!r} holds {type(value).__name__}, not an object")
    return value


def _upgrade_v1(st: Store, key: StateKey, data: StateValue) -> StateValue | None:
    """A value written before values carried `v` (format 1): the incident carried its member
    alerts and its whole assessment, and `meta` the tombstones. Read what format 2 keeps; the
    published fingerprint is not kept, so the next version lists only the engine's own changes.
    """
    if key.kind is KeyKind.META:
        st.tombstones.update(
            (fp, datetime.fromisoformat(at)) for fp, at in data.get("tombstones", {}).items()
        )
        return None
    if key.kind is not KeyKind.INCIDENT:
        return {**data, "v": FORMAT_VERSION}
    for seq, raw in enumerate(data["alerts"]):
        alert = AlertState.from_dict({**raw, "seq": seq})
        current = st.alerts.get(alert.fingerprint)
        if current is None or alert.starts_at >= current.starts_at:
            st.alerts[alert.fingerprint] = alert
    verdict = data["assessment"]
    return {
        **data,
        "v": FORMAT_VERSION,
        "assessment": {**verdict, "users": verdict["affected"]["users"]},
        "published": None,
        "pending": [],
        "next_update_at": None,
        "subscribers": data.get("subscribers", []),
        "next_seq": len(data["alerts"]),
        "detached": [],
    }


def restore(st: Store, state: Mapping[str, object]) -> None:
    """Fill an empty store from `snapshot()` output (or a changelog read back key by key)."""
    raw = state.get(META.format())
    if raw:
        data = _stored(META.format(), raw)
        st.clock = datetime.fromisoformat(data["clock"]) if data["clock"] else None
        st.counters = Counter(data["counters"])
    for text, value in sorted(state.items()):
        key = StateKey.parse(text)
        if value is None or key is None:
            continue
        data = _stored(text, value)
        if "v" not in data:
            upgraded = _upgrade_v1(st, key, data)
            if upgraded is None:
                continue
            data = upgraded
        if key.kind is KeyKind.INCIDENT:
            inc = Incident.from_dict(data)
            st.incidents[inc.id] = inc
        elif key.kind is KeyKind.RECURRENCE:
            st.recurrence[key.id] = recurrence.from_value(data)
        elif key.kind is KeyKind.ALERT:
            if "tombstone" in data:
                st.tombstones[key.id] = datetime.fromisoformat(data["tombstone"])
            else:
                alert = AlertState.from_dict(data)
                st.alerts[alert.fingerprint] = alert
    for alert in st.alerts.values():
        holder = st.incidents.get(alert.incident_id) if alert.incident_id else None
        if holder is not None and alert.fingerprint not in holder.detached:
            holder.alerts[alert.fingerprint] = alert
    for inc in st.incidents.values():
        inc.alerts = dict(sorted(inc.alerts.items(), key=lambda item: item[1].seq))
        membership.recount(inc)
    # A tombstone is kept in insertion order (oldest first) for the count cap.
    st.tombstones = dict(sorted(st.tombstones.items(), key=lambda item: (item[1], item[0])))
    rebuild(st)
    st.dirty.clear()


def rebuild(st: Store) -> None:
    """Every index and timer, from the incidents and alerts (after a restore or a new topology)."""
    st.index = st.new_index()
    st.reindex_tombstones()
    st.open = {i.id for i in st.incidents.values() if i.status == IncidentPhase.OPEN}
    st.unmapped_open.clear()
    st.resolved_by_root.clear()
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
                    st.index.note_onset(state.node, state.starts_at)
            if inc.unmapped_key:
                st.unmapped_open[inc.unmapped_key] = inc.id
        elif inc.status == IncidentPhase.RESOLVED and inc.resolved_at is not None:
            for root in inc.assessment.root_nodes:
                st.resolved_by_root.setdefault(root, set()).add(inc.id)
    reschedule(st)


def reschedule(st: Store) -> None:
    """The timers every live incident and alert needs, and no others (after a restore, and
    whenever the heap is `overgrown` with timers of changed or forgotten items)."""
    st.timers.clear()
    for inc in st.incidents.values():
        if inc.status == IncidentPhase.OPEN:
            for state in inc.alerts.values():
                # A stale timer only ever unindexes, so a member that is not indexed needs none.
                st.timers.schedule(
                    t
                    for t in timers_for(state, st.settings)
                    if t.kind is not TimerKind.STALE or state.indexed
                )
        st.timers.schedule(timers_for(inc, st.settings))
    for state in st.alerts.values():
        if state.incident_id is None:
            st.timers.schedule(timers_for(state, st.settings, st.silences, st.clock))
    st.timers.rebuilt()
