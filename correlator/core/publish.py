"""Publishing: the update stream of docs/updates.md.

After a change, a touched incident is re-assessed and its *desk state* (`desk_state`: a compact
fingerprint of what a desk reads: status, root cause, levels, resolver group, hashes of the
affected lists and candidates, subscriber count) is compared with the one last published. What
differs, plus the changes the engine noted (`Store.touch`), is what the next version's `changes`
lists. A version goes out at once when any of them is one a desk acts on (`IMMEDIATE_CHANGES`,
and the immediate desk differences in `_DESK_FIELDS`); otherwise the changes wait in
`Incident.pending` and go out together one `update_interval` (event time) after the last
version, via the COALESCE timer. Nothing changed, nothing published.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from correlator.core import assess, recurrence
from correlator.core.keys import incident_key
from correlator.core.model import (
    IMMEDIATE_CHANGES,
    Change,
    IncidentPhase,
    IncidentRecord,
    TimerKind,
)
from correlator.core.state import Incident
from correlator.core.store import IncidentUpdate, Store
from correlator.core.timers import Timer
from correlator.rules.priority import next_update_at

DeskState = tuple[object, ...]

#: For each position of `desk_state`: the change it names, and whether it publishes at once.
_DESK_FIELDS: Final[tuple[tuple[Change, bool], ...]] = (
    (Change.STATUS, True),  # status
    (Change.STATUS, True),  # merged_into
    (Change.REOPENED, True),  # times reopened
    (Change.ROOT_CAUSE, True),  # root node
    (Change.ROOT_CAUSE, True),  # root name
    (Change.ROOT_CAUSE, True),  # root silent
    (Change.IMPACT, True),
    (Change.URGENCY, False),
    (Change.PRIORITY, True),
    (Change.ASSIGNMENT, True),
    (Change.AFFECTED, True),  # users
    (Change.AFFECTED, True),  # sites
    (Change.AFFECTED, True),  # user groups
    (Change.AFFECTED, True),  # business services
    (Change.AFFECTED, False),  # technical services only
    (Change.CANDIDATES, False),
    (Change.SUBSCRIBERS, True),
    (Change.AFFECTED, True),  # at risk -> cannot work (its impact or priority may not move)
)

#: The change names `desk_changes` derives; a pending one is re-derived when the version goes out.
DESK_CHANGES: Final[frozenset[str]] = frozenset(c.value for c, _ in _DESK_FIELDS)


def _hash(items: Iterable[str]) -> str:
    return hashlib.blake2b("\x1f".join(items).encode(), digest_size=6).hexdigest()


def desk_state(inc: Incident) -> DeskState:
    """JSON-able (it is stored in the incident header) and small whatever the incident's size."""
    verdict = inc.assessment
    affected = verdict.affected
    root = verdict.root
    return (
        inc.status.value,
        inc.merged_into,
        inc.reopened,
        root.node if root else None,
        root.name if root else None,
        root.silent if root else None,
        verdict.impact,
        verdict.urgency,
        verdict.priority,
        verdict.assignment_group,
        affected.users,
        _hash(affected.sites),
        _hash(affected.user_groups),
        _hash(affected.business_services),
        _hash(affected.services),
        _hash(c.node or c.name for c in verdict.candidates),
        len(inc.subscribers),
        verdict.at_risk,
    )


def desk_changes(before: DeskState | None, after: DeskState) -> tuple[set[str], bool]:
    """(the changes between two desk states, whether any of them publishes at once)."""
    if before is None or len(before) != len(after):
        return set(), True
    names: set[str] = set()
    immediate = False
    for (change, at_once), old, new in zip(_DESK_FIELDS, before, after, strict=True):
        if old != new:
            names.add(change.value)
            immediate = immediate or at_once
    return names, immediate


def emit(st: Store, inc: Incident, now: datetime, extra: Iterable[Change] = ()) -> IncidentRecord:
    """The next version of `inc`, with every change pending and every desk difference."""
    current = desk_state(inc)
    changes = {c for c in inc.pending if c not in DESK_CHANGES}
    changes.update(c.value for c in extra)
    changes |= desk_changes(inc.published, current)[0]
    inc.pending.clear()
    inc.published = current
    inc.version += 1
    inc.updated_at = now
    deadline = inc.next_update_at
    if changes == {Change.UPDATE_DUE.value}:
        pass  # the chase: the deadline stays as it was (overdue) until someone updates users
    elif inc.status == IncidentPhase.OPEN:
        anchor = inc.anchor or inc.opened_at
        inc.next_update_at = next_update_at(
            anchor, now, inc.assessment.priority, st.settings.priority
        )
    else:
        inc.next_update_at = None
    inc.recurrence = recurrence.of(st, inc, now)
    st.dirty.add(incident_key(inc.id))
    st.counters["updates_published"] += 1
    if inc.next_update_at is not None and inc.next_update_at != deadline:
        # Only the deadline is new here (hold-down and coalesce timers are scheduled where they
        # arise); `timers_for` schedules the same on restore.
        st.timers.schedule([Timer(inc.next_update_at, TimerKind.UPDATE_DUE, inc.id)])
    return st.render(inc, st.topology, st.settings, sorted(changes) or [Change.UPDATED.value])


def publish(st: Store, now: datetime) -> list[IncidentUpdate]:
    """Publish (or hold for coalescing) every touched incident; hand over the outbox."""
    interval = st.settings.update_interval
    while st.touched:
        inc_id = next(iter(st.touched))
        inc = st.incidents.get(inc_id)
        if inc is None:
            del st.touched[inc_id]
            continue
        if not inc.assessed:
            assess.run(st, inc, now)
        touched = st.touched.pop(inc.id, set())
        waiting = bool(inc.pending)  # then its COALESCE timer is scheduled already
        inc.pending.update(c.value for c in touched)
        current = desk_state(inc)
        diff, immediate = desk_changes(inc.published, current)
        inc.pending |= diff
        if not (inc.pending - DESK_CHANGES) and not diff:
            inc.pending.clear()  # a desk change that went back before it was published
            continue
        immediate = immediate or any(c in IMMEDIATE_CHANGES for c in inc.pending)
        if immediate or not inc.version or now >= inc.updated_at + interval:
            st.outbox.append(IncidentUpdate(emit(st, inc, now)))
        else:
            st.dirty.add(incident_key(inc.id))
            if not waiting:
                st.timers.schedule([Timer(inc.updated_at + interval, TimerKind.COALESCE, inc.id)])
    out, st.outbox = st.outbox, []
    return out
