"""Recurrence: how often incidents with the same root cause node were resolved lately.

A bounded history, by root node, of `(resolved_at, incident id)`: at most
`recurrence_per_root` entries for a node (the oldest dropped first) and at most
`recurrence_roots` nodes (the node whose latest resolution is oldest is dropped first), so a
long-running engine's state does not grow with every fault it ever saw. Entries older than
`recurrence_window` are ignored when counting and pruned whenever their node is written. Stored
under `recurrence/<node>`, one small value per node.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from correlator.core.keys import recurrence_key
from correlator.core.state import Incident
from correlator.core.store import Store

History = list[tuple[datetime, str]]


def root_of(inc: Incident) -> str | None:
    """The first root node (persisted in the header, so a restored engine says the same)."""
    return inc.assessment.root_nodes[0] if inc.assessment.root_nodes else None


def of(st: Store, inc: Incident, now: datetime) -> tuple[int, datetime | None]:
    """(earlier incidents on `inc`'s root within the window, when the last of them resolved)."""
    node = root_of(inc)
    history = st.recurrence.get(node) if node is not None else None
    if not history:
        return 0, None
    horizon = now - st.settings.recurrence_window
    times = [at for at, ident in history if ident != inc.id and horizon <= at <= now]
    return len(times), max(times) if times else None


def note_resolved(st: Store, inc: Incident, at: datetime) -> None:
    """Record that `inc` resolved at `at`; counts `incidents_repeated` when it was a repeat."""
    node = root_of(inc)
    if node is None:
        return
    if of(st, inc, at)[0]:
        st.counters["incidents_repeated"] += 1
    horizon = at - st.settings.recurrence_window
    history = [e for e in st.recurrence.get(node, []) if e[0] >= horizon and e[1] != inc.id]
    history.append((at, inc.id))
    history.sort()
    st.recurrence[node] = history[-st.settings.recurrence_per_root :]
    st.dirty.add(recurrence_key(node))
    while len(st.recurrence) > st.settings.recurrence_roots:
        oldest = min(st.recurrence, key=lambda n: (st.recurrence[n][-1], n))
        del st.recurrence[oldest]
        st.dirty.add(recurrence_key(oldest))


def to_value(history: History) -> dict[str, Any]:
    return {"v": 1, "resolved": [[at.isoformat(), ident] for at, ident in history]}


def from_value(value: dict[str, Any]) -> History:
    return [(datetime.fromisoformat(at), str(ident)) for at, ident in value["resolved"]]
