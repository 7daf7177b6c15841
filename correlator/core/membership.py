"""An incident's member alerts and the grouping index over them.

A member is *indexed* (draws related alerts into its incident) while it is fresh: firing, or
resolved for less than `grouping.window`. Older members stay in the record but no longer
attract, so a long-running incident does not swallow every later fault.
"""

from __future__ import annotations

import bisect
from datetime import datetime

from correlator.core.keys import alert_key
from correlator.core.model import Change
from correlator.core.state import AlertState, Incident
from correlator.core.store import Store


def fresh(st: Store, state: AlertState) -> bool:
    if state.active or state.ends_at is None or st.clock is None:
        return True
    return state.ends_at + st.settings.grouping.window > st.clock


def index(st: Store, inc_id: str, state: AlertState) -> None:
    if state.indexed or state.node is None or state.node not in st.topology.nodes:
        return
    if fresh(st, state):
        st.index.add_member(inc_id, state.node)
        state.indexed = True


def unindex(st: Store, inc_id: str, state: AlertState) -> None:
    if state.indexed and state.node is not None:
        st.index.remove_member(inc_id, state.node)
        state.indexed = False


def expire(st: Store, fingerprint: str) -> None:
    """The stale timer: unindex a member that is no longer fresh."""
    state = st.alerts.get(fingerprint)
    if state is None or state.incident_id is None or fresh(st, state):
        return
    unindex(st, state.incident_id, state)


def add(
    st: Store, inc: Incident, state: AlertState, change: Change, *, already_active: bool = False
) -> None:
    """Make `state` a member of `inc` (`already_active`: its node is already counted active)."""
    fp = state.fingerprint
    previous = inc.alerts.get(fp)
    if previous is not None:
        if previous is not state:
            # An earlier occurrence of the same alert, kept from before a reopen.
            unindex(st, inc.id, previous)
        account(inc, previous, (previous.active, previous.severity), gone=True)
        state.seq = previous.seq
    else:
        state.seq = inc.next_seq
        inc.next_seq += 1
    inc.alerts[fp] = state
    account(inc, state, None)
    if st.alerts.get(fp) is state:
        inc.detached.discard(fp)
    else:
        inc.detached.add(fp)
    state.incident_id = inc.id
    structure = st.structures.get(inc.id)
    if structure is not None and state.node is not None and state.node in st.topology:
        structure.add(state.node, st.index)
    index(st, inc.id, state)
    if state.node is not None and not already_active and state.active:
        st.index.set_active(state.node, +1)
    inc.quiet_since = None
    st.dirty.add(alert_key(state.fingerprint))
    st.touch(inc, change)


Was = tuple[bool, str] | None
"""(active, severity) of a member before it changed; None for a member not counted yet."""

#: Severities that say "degraded" rather than "down" (the record's title wording).
MILD = frozenset({"warning", "info"})
_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def before(state: AlertState) -> Was:
    return (state.active, state.severity)


def desk_key(state: AlertState) -> tuple[int, int, datetime, str]:
    """Where a record lists the alert: firing first, most severe first, then oldest first."""
    return (
        0 if state.active else 1,
        _RANK.get(state.severity, 4),
        state.starts_at,
        state.fingerprint,
    )


def account(inc: Incident, state: AlertState, was: Was, *, gone: bool = False) -> None:
    """Keep an incident's aggregates in step with one member's change, in O(log n) rather
    than a pass over every member: `firing` (severity counts of active members), `tallies`
    (members by node and down/degraded, for the record's wording), `order` (the desk order of
    the record's alert list) and `by_node` (members by node, for ranking). Undo what the member
    counted as `was`, count it as it is now (unless it is `gone`). A state that is not `inc`'s
    member is left alone."""
    if inc.alerts.get(state.fingerprint) is not state:
        return
    if was is None and not gone:
        inc.by_node.setdefault(state.node, {})[state.fingerprint] = state
    if was is not None:
        if was[0]:
            inc.firing[was[1]] -= 1
        inc.tallies[(state.node, was[1] not in MILD)] -= 1
        key = state.order_key
        if key is not None:
            at = bisect.bisect_left(inc.order, key)
            if at < len(inc.order) and inc.order[at] == key:
                del inc.order[at]
    if gone:
        state.order_key = None
        on_node = inc.by_node.get(state.node)
        if on_node is not None and on_node.get(state.fingerprint) is state:
            del on_node[state.fingerprint]
            if not on_node:
                del inc.by_node[state.node]
        return
    if state.active:
        inc.firing[state.severity] += 1
    inc.tallies[(state.node, state.severity not in MILD)] += 1
    state.order_key = desk_key(state)
    bisect.insort(inc.order, state.order_key)


def recount(inc: Incident) -> None:
    """Every aggregate from scratch (after a restore)."""
    inc.firing.clear()
    inc.tallies.clear()
    inc.by_node.clear()
    inc.order.clear()
    for state in inc.alerts.values():
        account(inc, state, None)
