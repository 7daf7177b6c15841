"""Everything the engine holds, in one place, so the modules that act on it are plain functions.

Only `alerts`, `incidents`, `clock`, `counters`, `tombstones` and `recurrence` are persisted
(see `persist`); the rest is derived from them and rebuilt on restore or on a topology change.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from correlator.core.keys import StateKey, incident_key
from correlator.core.model import Change, IncidentRecord
from correlator.core.settings import EngineSettings
from correlator.core.state import AlertState, Incident
from correlator.core.timers import TimerWheel
from correlator.rules import grouping, rootcause
from correlator.rules.suppression import CompiledSilence
from topology import Topology

#: Builds the published record of an incident: `correlator.wire.render.record.build_record`,
#: handed in by whoever builds the engine, so that the engine knows nothing of rendering.
RecordRenderer = Callable[[Incident, Topology, EngineSettings, Sequence[str]], IncidentRecord]


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """One published change of one incident; `record` is what goes on the incidents topic."""

    record: IncidentRecord

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def version(self) -> int:
        return self.record.version


@dataclass(slots=True)
class Store:
    settings: EngineSettings
    topology: Topology
    render: RecordRenderer
    silences: tuple[CompiledSilence, ...]
    index: grouping.GroupingIndex = field(init=False)
    alerts: dict[str, AlertState] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    clock: datetime | None = None
    counters: Counter[str] = field(default_factory=Counter)
    tombstones: dict[str, datetime] = field(default_factory=dict)
    """fingerprint -> end of a forgotten alert (kept for `lifecycle.tombstone_ttl`)"""
    tombstone_expiry: list[tuple[datetime, str]] = field(default_factory=list)
    """derived, never persisted: a min-heap of (end, fingerprint) over `tombstones`, so that
    expiring them costs what expires, not a scan of all of them after every batch. Entries of
    tombstones since evicted or re-stamped stay until they surface and are then skipped."""
    recurrence: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    """root node -> (resolved_at, incident id) of recent incidents (`core.recurrence`)"""
    open: set[str] = field(default_factory=set)
    """ids of open incidents: the background fault count for silent-cause plausibility"""
    unmapped_open: dict[str, str] = field(default_factory=dict)
    resolved_by_root: dict[str, set[str]] = field(default_factory=dict)
    timers: TimerWheel = field(default_factory=TimerWheel)
    touched: dict[str, set[Change]] = field(default_factory=dict)
    """incidents to re-assess and maybe publish, with what changed in them"""
    outbox: list[IncidentUpdate] = field(default_factory=list)
    dirty: set[StateKey] = field(default_factory=set)
    """state keys changed since the last `take_state_changes`"""
    structures: dict[str, rootcause.Structure] = field(default_factory=dict)
    """derived, never persisted: a restored engine re-ranks in full and gets the same result"""

    def __post_init__(self) -> None:
        self.index = self.new_index()

    def reindex_tombstones(self) -> None:
        self.tombstone_expiry = [(ended, fp) for fp, ended in self.tombstones.items()]
        heapq.heapify(self.tombstone_expiry)

    def new_index(self) -> grouping.GroupingIndex:
        return grouping.GroupingIndex(
            self.topology, self.settings.grouping, background=lambda: len(self.open)
        )

    def touch(self, inc: Incident, change: Change | None, *, reassess: bool = True) -> None:
        """Mark `inc` for publishing (and, with `reassess`, for re-assessment); `change` (if
        any) is listed in its next record."""
        if reassess:
            inc.assessed = False
        changes = self.touched.setdefault(inc.id, set())
        if change is not None:
            changes.add(change)
        self.dirty.add(incident_key(inc.id))
