"""An incident's member alerts and the grouping index over them.

A member is *indexed* (draws related alerts into its incident) while it is fresh: firing, or
resolved for less than `grouping.window`. Older members stay in the record but no longer
attract, so a long-running incident does not swallow every later fault.
"""

from __future__ import annotations

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


def before(state: AlertState) -> Was:
    return (state.active, state.severity)


def account(inc: Incident, state: AlertState, was: Was, *, gone: bool = False) -> None:
    """Keep `inc.firing` (severity counts of active members) in step with one member's change:
    undo what it counted as `was`, count it as it is now (unless it is `gone`)."""
    if was is not None and was[0]:
        inc.firing[was[1]] -= 1
    if not gone and state.active:
        inc.firing[state.severity] += 1
