"""Publishing: whether a touched incident changed enough for a desk to hear of it, and the new
version's record when it did.
"""

from __future__ import annotations

from datetime import datetime

from correlator.core import pipeline
from correlator.core.keys import incident_key
from correlator.core.model import Change, IncidentRecord
from correlator.core.state import Incident
from correlator.core.store import IncidentUpdate, Store

#: What a desk sees of an incident. A new version is published only when this changes, so a
#: re-send or a re-ranking that ends where it started publishes nothing.
Digest = tuple[object, ...]


def digest(inc: Incident) -> Digest:
    verdict = inc.assessment
    affected = verdict.affected
    root = verdict.root
    return (
        inc.status,
        inc.merged_into,
        inc.reopened,
        inc.alert_epoch,
        root.node if root else None,
        root.name if root else None,
        root.silent if root else None,
        tuple(c.node for c in verdict.candidates),
        affected.users,
        tuple(affected.user_groups),
        tuple(affected.business_services),
        tuple(affected.services),
        tuple(affected.sites),
        verdict.impact,
        verdict.urgency,
        verdict.priority,
        verdict.assignment_group,
        tuple(sorted(inc.subscribers)),
    )


def record(st: Store, inc: Incident, now: datetime, changes: list[str]) -> IncidentRecord:
    """A new version of `inc`, rendered by the renderer the engine was given."""
    inc.version += 1
    inc.updated_at = now
    st.dirty.add(incident_key(inc.id))
    st.counters["updates_published"] += 1
    return st.render(inc, st.topology, st.settings, changes or [Change.UPDATED.value])


def publish(st: Store, now: datetime) -> list[IncidentUpdate]:
    """Publish every touched incident that changed; hand over what is in the outbox."""
    while st.touched:
        inc_id = next(iter(st.touched))
        inc = st.incidents.get(inc_id)
        if inc is None:
            del st.touched[inc_id]
            continue
        if not inc.assessed:
            pipeline.assess(st, inc, now)
        changes = st.touched.pop(inc.id, set())
        current = digest(inc)
        if current == inc.published_digest:
            continue
        inc.published_digest = current
        st.outbox.append(IncidentUpdate(record(st, inc, now, sorted(c.value for c in changes))))
    out, st.outbox = st.outbox, []
    return out
