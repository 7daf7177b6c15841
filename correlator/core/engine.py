"""The pure Correlator: alerts in, incident updates out.

No I/O, no threads, no wall clock: time arrives as an argument, so the worker, `replay` and the
tests drive the same object and the same input always gives the same output. The rules it runs,
and their order, are spelled out in `correlator.rules`.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from correlator.core.model import Alert, IncidentRecord, utc
from correlator.core.settings import EngineSettings
from correlator.core.state import AlertState, Incident
from correlator.rules import dedup, flapping, grouping, impact, priority, reopen, rootcause
from correlator.rules.dedup import Verdict
from correlator.rules.mapping import map_alert, unmapped_key
from correlator.rules.suppression import compile_silences, muted_by
from correlator.wire.render.record import build_record
from topology import Topology

#: How long a forgotten alert's end is remembered, so that a firing re-send delivered late (after
#: its incident was resolved and forgotten) is recognised as stale instead of opening a duplicate.
TOMBSTONE_TTL = timedelta(hours=24)


#: Changes to an incident's alerts that a desk hears about. A flapping alert's every flip is not
#: among them (only the moment it starts flapping), nor is a re-send.
ALERT_CHANGES = frozenset(
    {
        "alert_added",
        "alert_resolved",
        "alert_refired",
        "alert_flapping",
        "severity_changed",
        "merged_in",
    }
)


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
class EngineStats:
    active_alerts: int = 0
    suppressed_alerts: int = 0
    open_incidents_by_priority: dict[int, int] = field(default_factory=dict)
    open_incidents_by_group: dict[str, int] = field(default_factory=dict)
    people_affected: int = 0
    cost_per_hour: float = 0.0
    incidents: int = 0


def incident_id(alert: AlertState) -> str:
    """Stable across restarts and replays: derived from the alert occurrence that opened it."""
    digest = hashlib.blake2b(
        f"{alert.fingerprint}|{alert.starts_at.isoformat()}".encode(), digest_size=8
    ).hexdigest()
    return f"INC-{digest.upper()}"


class Correlator:
    def __init__(self, topology: Topology, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self._silences = compile_silences(self.settings.silences, self.settings.maintenance)
        self._topology = topology
        self._open: set[str] = set()
        """Ids of open incidents: the background fault count for silent-cause plausibility."""
        self._index = self._new_index(topology)
        self.alerts: dict[str, AlertState] = {}
        self.incidents: dict[str, Incident] = {}
        self.clock: datetime | None = None
        self.counters: Counter[str] = Counter()
        self._unmapped_open: dict[str, str] = {}
        self._resolved_by_root: dict[str, set[str]] = {}
        self._tombstones: dict[str, datetime] = {}
        # (when, kind, key): ties broken by kind and key, never by scheduling order, so that a
        # restored engine (which re-schedules in another order) fires timers identically.
        self._timers: list[tuple[datetime, str, str]] = []
        self._touched: dict[str, set[str]] = {}
        self._outbox: list[IncidentUpdate] = []
        self._dirty: set[str] = set()
        # Derived, never persisted: a restored engine re-ranks in full and gets the same result.
        self._structures: dict[str, rootcause.Structure] = {}

    # -- public API -------------------------------------------------------------------------

    @property
    def topology(self) -> Topology:
        return self._topology

    def ingest(self, alert: Alert, now: datetime) -> list[IncidentUpdate]:
        """Take one alert at event time `now`; return the incident updates it causes."""
        return self.ingest_many(((alert, now),))

    def ingest_many(self, alerts: Iterable[tuple[Alert, datetime]]) -> list[IncidentUpdate]:
        """Take the alerts of one message (a webhook carries many) and publish once per
        incident at the end, so a webhook clearing ten alerts makes one update, not ten."""
        updates: list[IncidentUpdate] = []
        now: datetime | None = None
        for alert, at in alerts:
            now = self._advance(at)
            updates.extend(self._run_timers(now))
            self._apply(alert, now)
        if now is not None:
            updates.extend(self._publish(now))
        return updates

    def tick(self, now: datetime) -> list[IncidentUpdate]:
        """Let time pass with no alert: hold-downs expire, flapping settles, silences end."""
        return self._run_timers(self._advance(now))

    def snapshot(self) -> dict[str, Any]:
        state: dict[str, Any] = {"meta": self._meta()}
        for inc in self.incidents.values():
            state[f"incident/{inc.id}"] = inc.to_dict()
        for alert in self.alerts.values():
            if alert.incident_id is None:
                state[f"alert/{alert.fingerprint}"] = alert.to_dict()
        return state

    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace all state with a `snapshot()` (or a changelog read back key by key)."""
        self._reset()
        meta = state.get("meta")
        if meta:
            self.clock = datetime.fromisoformat(meta["clock"]) if meta["clock"] else None
            self.counters = Counter(meta["counters"])
            self._tombstones = {k: datetime.fromisoformat(v) for k, v in meta["tombstones"].items()}
        standalone: list[AlertState] = []
        for key, value in sorted(state.items()):
            if value is None:
                continue
            if key.startswith("incident/"):
                inc = Incident.from_dict(value)
                self.incidents[inc.id] = inc
            elif key.startswith("alert/"):
                standalone.append(AlertState.from_dict(value))
        for inc in sorted(self.incidents.values(), key=lambda i: (i.opened_at, i.id)):
            for alert in inc.alerts.values():
                current = self.alerts.get(alert.fingerprint)
                if current is None or alert.starts_at >= current.starts_at:
                    self.alerts[alert.fingerprint] = alert
        for alert in standalone:
            self.alerts[alert.fingerprint] = alert
        self._rebuild_indexes()
        self._dirty.clear()

    def _reset(self) -> None:
        self.alerts = {}
        self.incidents = {}
        self.clock = None
        self.counters = Counter()
        self._unmapped_open = {}
        self._resolved_by_root = {}
        self._tombstones = {}
        self._timers = []
        self._open = set()
        self._structures = {}
        self._touched = {}
        self._outbox = []
        self._dirty = set()

    def take_state_changes(self) -> dict[str, Any | None]:
        """State keys changed since the last call, with their values (None = deleted)."""
        changes: dict[str, Any | None] = {}
        for key in sorted(self._dirty):
            if key == "meta":
                changes[key] = self._meta()
            elif key.startswith("incident/"):
                inc = self.incidents.get(key[len("incident/") :])
                changes[key] = inc.to_dict() if inc is not None else None
            else:
                alert = self.alerts.get(key[len("alert/") :])
                keep = alert is not None and alert.incident_id is None
                changes[key] = alert.to_dict() if keep and alert is not None else None
        self._dirty.clear()
        return changes

    def replace_topology(self, topology: Topology) -> None:
        """Use a new topology from now on; open incidents keep their alerts and are re-indexed."""
        self._topology = topology
        self._structures.clear()
        self._rebuild_indexes()

    def stats(self) -> EngineStats:
        stats = EngineStats(incidents=len(self.incidents))
        for alert in self.alerts.values():
            if alert.suppressed_by is not None:
                stats.suppressed_alerts += 1
            elif alert.active:
                stats.active_alerts += 1
        for inc in self.incidents.values():
            if inc.status != "open":
                continue
            verdict = inc.assessment
            stats.open_incidents_by_priority[verdict.priority] = (
                stats.open_incidents_by_priority.get(verdict.priority, 0) + 1
            )
            group = verdict.assignment_group or "unassigned"
            stats.open_incidents_by_group[group] = stats.open_incidents_by_group.get(group, 0) + 1
            if inc.has_active:
                stats.people_affected += verdict.affected.users
                stats.cost_per_hour += verdict.cost_per_hour
        return stats

    # -- the alert pipeline -----------------------------------------------------------------

    def _advance(self, now: datetime) -> datetime:
        now = utc(now)
        if self.clock is None or now > self.clock:
            self.clock = now
            self._dirty.add("meta")
        return self.clock

    def _apply(self, alert: Alert, now: datetime) -> None:
        known = self.alerts.get(alert.fingerprint)
        verdict = dedup.classify(known, alert)
        if known is None and verdict is Verdict.NEW:
            ended = self._tombstones.get(alert.fingerprint)
            if ended is not None and alert.starts_at <= ended:
                verdict = Verdict.STALE
        self.counters[f"alerts_{verdict.value}"] += 1
        if verdict is Verdict.NEW:
            self._admit(self._new_state(alert, now), now)
        elif known is None or verdict in (Verdict.STALE, Verdict.RESEND):
            if known is not None:
                known.last_seen = now
        elif verdict is Verdict.SEVERITY_CHANGED:
            known.severity = alert.severity
            known.last_seen = now
            self._touch_alert(known, "severity_changed")
        elif verdict is Verdict.RESOLVED:
            self._resolve_alert(known, alert, now)
        elif verdict is Verdict.REFIRED:
            self._refire_alert(known, alert, now)

    def _new_state(self, alert: Alert, now: datetime) -> AlertState:
        return AlertState(
            fingerprint=alert.fingerprint,
            name=alert.name,
            node=map_alert(self._topology, alert),
            severity=alert.severity,
            status="firing",
            starts_at=utc(alert.starts_at),
            ends_at=None,
            summary=alert.summary,
            source=alert.source,
            labels=dict(alert.labels),
            last_seen=now,
        )

    def _admit(self, state: AlertState, now: datetime) -> None:
        """Suppression, then grouping, for an alert occurrence that is news."""
        self.alerts[state.fingerprint] = state
        muted = (
            muted_by(self._silences, state.name, state.labels, state.node, now)
            if self._silences
            else None
        )
        if muted is not None:
            state.suppressed_by = muted
            self.counters["alerts_suppressed"] += 1
            self._dirty.add(f"alert/{state.fingerprint}")
            self._schedule_unmute(state, now)
            return
        if state.suppressed_by is not None:
            self._dirty.add(f"alert/{state.fingerprint}")
        state.suppressed_by = None
        if state.node is None:
            state.unmapped_key = unmapped_key(state.name, state.labels)
            self._join_unmapped(state, now)
        else:
            self._join_related(state, now)

    def _join_unmapped(self, state: AlertState, now: datetime) -> None:
        key = state.unmapped_key or f"alertname={state.name}"
        inc_id = self._unmapped_open.get(key)
        inc = self.incidents.get(inc_id) if inc_id else None
        if inc is None or inc.status != "open" or not self._joinable(inc, now):
            inc = self._open_incident(state, now)
            inc.unmapped_key = key
            self._unmapped_open[key] = inc.id
        self._add_alert(inc, state, "alert_added")

    def _join_related(self, state: AlertState, now: datetime) -> None:
        node = state.node
        assert node is not None
        self._index.set_active(node, +1)
        related = [
            self.incidents[i]
            for i in self._index.related_incidents(node, state.starts_at)
            if i in self.incidents
            and self.incidents[i].status == "open"
            and self._joinable(self.incidents[i], now)
        ]
        if not related:
            reopened = self._reopenable(node, now)
            if reopened is not None:
                self._reopen(reopened, now)
                related = [reopened]
        if not related:
            inc = self._open_incident(state, now)
        else:
            related.sort(key=lambda i: (i.opened_at, i.id))
            inc = related[0]
            for other in related[1:]:
                self._merge(other, inc, now)
        self._add_alert(inc, state, "alert_added", already_active=True)

    def _joinable(self, inc: Incident, now: datetime) -> bool:
        if inc.quiet_since is None:
            return True
        return now - inc.quiet_since <= self.settings.grouping.window

    def _reopenable(self, node: str, now: datetime) -> Incident | None:
        """The most recently resolved incident, within the reopen window, whose root cause is
        this node or one of its causes."""
        window = self.settings.lifecycle.reopen_window
        best: Incident | None = None
        for root in (node, *self._index.causes(node)):
            for inc_id in self._resolved_by_root.get(root, ()):
                inc = self.incidents.get(inc_id)
                if inc is None or inc.status != "resolved" or inc.resolved_at is None:
                    continue
                if now - inc.resolved_at > window:
                    continue
                if not reopen.cause_is_back(self._index, root, node, now):
                    continue
                if best is None or (inc.resolved_at, inc.id) > (best.resolved_at or now, best.id):
                    best = inc
        return best

    def _open_incident(self, state: AlertState, now: datetime) -> Incident:
        opened = min(state.starts_at, now)
        inc = Incident(id=incident_id(state), opened_at=opened, updated_at=now, anchor=opened)
        inc.cost_since = opened
        self.incidents[inc.id] = inc
        self._open.add(inc.id)
        self._touch(inc, "opened")
        return inc

    def _add_alert(
        self, inc: Incident, state: AlertState, change: str, *, already_active: bool = False
    ) -> None:
        previous = inc.alerts.get(state.fingerprint)
        if previous is not None and previous is not state:
            # An earlier occurrence of the same alert, kept from before a reopen.
            self._unindex_member(inc.id, previous)
        inc.alerts[state.fingerprint] = state
        state.incident_id = inc.id
        structure = self._structures.get(inc.id)
        if structure is not None and state.node is not None and state.node in self._topology:
            structure.add(state.node, self._index)
        self._index_member(inc.id, state)
        if state.node is not None and not already_active and state.active:
            self._index.set_active(state.node, +1)
        inc.quiet_since = None
        self._dirty.add(f"alert/{state.fingerprint}")
        self._touch(inc, change)

    def _fresh(self, state: AlertState) -> bool:
        """Does this member still draw related alerts into its incident? Firing ones do, and
        resolved ones for `grouping.window` after they cleared; older ones stay in the record
        but no longer attract, so a long-running incident does not swallow every later fault."""
        if state.active or state.ends_at is None or self.clock is None:
            return True
        return state.ends_at + self.settings.grouping.window > self.clock

    def _index_member(self, inc_id: str, state: AlertState) -> None:
        if state.indexed or state.node is None or state.node not in self._topology.nodes:
            return
        if self._fresh(state):
            self._index.add_member(inc_id, state.node)
            state.indexed = True

    def _unindex_member(self, inc_id: str, state: AlertState) -> None:
        if state.indexed and state.node is not None:
            self._index.remove_member(inc_id, state.node)
            state.indexed = False

    def _expire_member(self, fingerprint: str) -> None:
        state = self.alerts.get(fingerprint)
        if state is None or state.incident_id is None or self._fresh(state):
            return
        self._unindex_member(state.incident_id, state)

    def _resolve_alert(self, known: AlertState, alert: Alert, now: datetime) -> None:
        was_active = known.active
        known.status = "resolved"
        known.ends_at = utc(alert.ends_at) if alert.ends_at is not None else now
        known.last_seen = now
        if known.suppressed_by is not None or known.incident_id is None:
            self._forget_alert(known)
            return
        started = flapping.record_flip(known, now, self.settings.flapping)
        inc = self.incidents.get(known.incident_id)
        if inc is None:
            return
        if was_active and not known.active and known.node is not None:
            self._index.set_active(known.node, -1)
        if known.flapping:
            self._schedule(flapping.settle_deadline(known, self.settings.flapping), "settle", known)
            self._touch(inc, "alert_flapping" if started else "")
            return
        self._touch(inc, "alert_resolved")
        self._schedule_at(known.ends_at + self.settings.grouping.window, "stale", known.fingerprint)
        self._maybe_quiet(inc, min(known.ends_at, now))

    def _refire_alert(self, known: AlertState, alert: Alert, now: datetime) -> None:
        inc = self.incidents.get(known.incident_id) if known.incident_id else None
        if inc is None or inc.status != "open" or known.suppressed_by is not None:
            # Its incident is resolved or gone: the new occurrence goes through grouping again
            # (which may reopen that incident); the old incident keeps its history.
            fresh = self._new_state(alert, now)
            fresh.occurrences = known.occurrences + 1
            fresh.flips = list(known.flips)
            fresh.node = known.node if known.node is not None else fresh.node
            self._admit(fresh, now)
            return
        was_active = known.active
        known.status = "firing"
        known.starts_at = utc(alert.starts_at)
        known.ends_at = None
        known.last_seen = now
        known.occurrences += 1
        if alert.severity != known.severity:
            known.severity = alert.severity
        started = flapping.record_flip(known, now, self.settings.flapping)
        if not was_active and known.node is not None:
            self._index.set_active(known.node, +1)
        self._index_member(inc.id, known)
        inc.quiet_since = None
        if known.flapping:
            self._schedule(flapping.settle_deadline(known, self.settings.flapping), "settle", known)
            self._touch(inc, "alert_flapping" if started else "")
        else:
            self._touch(inc, "alert_refired")

    def _touch_alert(self, state: AlertState, change: str) -> None:
        if state.incident_id is None:
            self._dirty.add(f"alert/{state.fingerprint}")
            return
        inc = self.incidents.get(state.incident_id)
        if inc is not None:
            self._touch(inc, change)

    def _touch(self, inc: Incident, change: str) -> None:
        inc.assessed = False
        if change in ALERT_CHANGES:
            inc.alert_epoch += 1
        changes = self._touched.setdefault(inc.id, set())
        if change:
            changes.add(change)
        self._dirty.add(f"incident/{inc.id}")

    def _maybe_quiet(self, inc: Incident, since: datetime) -> None:
        if inc.status == "open" and not inc.has_active:
            inc.quiet_since = since
            self._schedule_at(since + self.settings.lifecycle.hold_down, "hold_down", inc.id)

    # -- merging, reopening, resolving, forgetting --------------------------------------------

    def _merge(self, absorbed: Incident, survivor: Incident, now: datetime) -> None:
        if not absorbed.assessed:
            self._assess(absorbed, now)
        absorbed.status = "merged"
        absorbed.merged_into = survivor.id
        self._touched.pop(absorbed.id, None)
        self._outbox.append(IncidentUpdate(self._record(absorbed, now, ["merged"])))
        for state in list(absorbed.alerts.values()):
            self._unindex_member(absorbed.id, state)
            if state.incident_id == absorbed.id:
                self._add_alert(survivor, state, "merged_in", already_active=True)
        if absorbed.unmapped_key and self._unmapped_open.get(absorbed.unmapped_key) == absorbed.id:
            del self._unmapped_open[absorbed.unmapped_key]
        del self.incidents[absorbed.id]
        self._structures.pop(absorbed.id, None)
        self._open.discard(absorbed.id)
        self._dirty.add(f"incident/{absorbed.id}")
        self.counters["incidents_merged"] += 1

    def _reopen(self, inc: Incident, now: datetime) -> None:
        self._unindex_resolved(inc)
        inc.status = "open"
        self._open.add(inc.id)
        inc.resolved_at = None
        inc.quiet_since = None
        inc.reopened += 1
        inc.anchor = now
        inc.cost_since = now
        for state in inc.alerts.values():
            self._index_member(inc.id, state)
        self._touch(inc, "reopened")
        self.counters["incidents_reopened"] += 1

    def _resolve_incident(self, inc: Incident, at: datetime) -> None:
        resolved_at = inc.quiet_since or at
        self._accrue(inc, resolved_at)
        inc.cost_since = None
        inc.status = "resolved"
        self._open.discard(inc.id)
        inc.resolved_at = resolved_at
        for state in inc.alerts.values():
            self._unindex_member(inc.id, state)
        if inc.unmapped_key and self._unmapped_open.get(inc.unmapped_key) == inc.id:
            del self._unmapped_open[inc.unmapped_key]
        for root in inc.assessment.root_nodes:
            self._resolved_by_root.setdefault(root, set()).add(inc.id)
        self._schedule_at(resolved_at + self.settings.lifecycle.reopen_window, "forget", inc.id)
        self._touch(inc, "resolved")
        self.counters["incidents_resolved"] += 1

    def _unindex_resolved(self, inc: Incident) -> None:
        for root in inc.assessment.root_nodes:
            ids = self._resolved_by_root.get(root)
            if ids is not None:
                ids.discard(inc.id)
                if not ids:
                    del self._resolved_by_root[root]

    def _forget_incident(self, inc: Incident) -> None:
        self._unindex_resolved(inc)
        for state in inc.alerts.values():
            if self.alerts.get(state.fingerprint) is state:
                self._forget_alert(state)
        del self.incidents[inc.id]
        self._structures.pop(inc.id, None)
        self._dirty.add(f"incident/{inc.id}")

    def _forget_alert(self, state: AlertState) -> None:
        if self.alerts.get(state.fingerprint) is state:
            del self.alerts[state.fingerprint]
        if state.ends_at is not None:
            self._tombstones[state.fingerprint] = state.ends_at
        self._dirty.add(f"alert/{state.fingerprint}")
        self._dirty.add("meta")

    # -- timers -------------------------------------------------------------------------------

    def _schedule(self, when: datetime | None, kind: str, state: AlertState) -> None:
        if when is not None:
            self._schedule_at(when, kind, state.fingerprint)

    def _schedule_at(self, when: datetime, kind: str, key: str) -> None:
        heapq.heappush(self._timers, (when, kind, key))

    def _schedule_unmute(self, state: AlertState, now: datetime) -> None:
        ends = [
            s.ends_at
            for s in self._silences
            if s.ends_at is not None and s.active_at(now) and s.ends_at > now
        ]
        if ends:
            self._schedule_at(min(ends), "unmute", state.fingerprint)

    def _run_timers(self, now: datetime) -> list[IncidentUpdate]:
        updates: list[IncidentUpdate] = []
        while self._timers and self._timers[0][0] <= now:
            when, kind, key = heapq.heappop(self._timers)
            if kind == "hold_down":
                inc = self.incidents.get(key)
                if (
                    inc is not None
                    and inc.status == "open"
                    and inc.quiet_since is not None
                    and not inc.has_active
                    and inc.quiet_since + self.settings.lifecycle.hold_down <= when
                ):
                    self._resolve_incident(inc, when)
                    updates.extend(self._publish(when))
            elif kind == "forget":
                inc = self.incidents.get(key)
                window = self.settings.lifecycle.reopen_window
                if (
                    inc is not None
                    and inc.status == "resolved"
                    and inc.resolved_at is not None
                    and inc.resolved_at + window <= when
                ):
                    self._forget_incident(inc)
            elif kind == "stale":
                self._expire_member(key)
            elif kind == "settle":
                self._settle(key, when)
                updates.extend(self._publish(when))
            elif kind == "unmute":
                state = self.alerts.get(key)
                if state is not None and state.suppressed_by is not None and state.active:
                    self._admit(state, when)
                    updates.extend(self._publish(when))
        self._expire_tombstones(now)
        return updates

    def _settle(self, fingerprint: str, when: datetime) -> None:
        state = self.alerts.get(fingerprint)
        if state is None or not flapping.settles(state, when, self.settings.flapping):
            return
        state.flapping = False
        inc = self.incidents.get(state.incident_id) if state.incident_id else None
        if inc is None:
            return
        if state.status == "resolved":
            if state.node is not None:
                self._index.set_active(state.node, -1)
            self._touch(inc, "alert_resolved")
            if state.ends_at is not None:
                self._schedule_at(
                    state.ends_at + self.settings.grouping.window, "stale", state.fingerprint
                )
            self._maybe_quiet(inc, when)
        else:
            self._touch(inc, "")

    def _expire_tombstones(self, now: datetime) -> None:
        if len(self._tombstones) < 1024:
            return
        horizon = now - TOMBSTONE_TTL
        stale = [fp for fp, ended in self._tombstones.items() if ended < horizon]
        for fp in stale:
            del self._tombstones[fp]
        if stale:
            self._dirty.add("meta")

    # -- assessment and publishing -------------------------------------------------------------

    def _publish(self, now: datetime) -> list[IncidentUpdate]:
        """Publish every touched incident that changed; hand over what is in the outbox."""
        while self._touched:
            inc_id = next(iter(self._touched))
            inc = self.incidents.get(inc_id)
            if inc is None:
                del self._touched[inc_id]
                continue
            update = self._publish_one(inc, now)
            if update is not None:
                self._outbox.append(update)
        out, self._outbox = self._outbox, []
        return out

    def _publish_one(self, inc: Incident, now: datetime) -> IncidentUpdate | None:
        """Re-assess `inc`; publish a new version if something a desk cares about changed."""
        if not inc.assessed:
            self._assess(inc, now)
        digest = self._digest(inc)
        changes = self._touched.pop(inc.id, set())
        if digest == inc.published_digest:
            return None
        inc.published_digest = digest
        record = self._record(inc, now, sorted(c for c in changes if c))
        return IncidentUpdate(record)

    def _record(self, inc: Incident, now: datetime, changes: list[str]) -> IncidentRecord:
        inc.version += 1
        inc.updated_at = now
        self._dirty.add(f"incident/{inc.id}")
        self.counters["updates_published"] += 1
        return build_record(inc, self._topology, self.settings, changes or ["updated"])

    def _assess(self, inc: Incident, now: datetime) -> None:
        """Run the incident stages: root cause -> impact -> priority (see `correlator.rules`)."""
        graph = self._topology
        members = [a for a in inc.alerts.values() if a.node is None or a.node in graph.nodes]
        structure = self._structures.get(inc.id)
        if structure is None:
            structure = self._structures[inc.id] = rootcause.Structure()
            for state in members:
                if state.node is not None:
                    structure.add(state.node, self._index)
        ranking = rootcause.rank(graph, self._index, members, inc.unmapped_key, structure)
        verdict = inc.assessment
        verdict.root = ranking.root
        verdict.candidates = ranking.candidates
        verdict.root_nodes = ranking.root_nodes
        affected, per_hour, currency = impact.assess(graph, ranking.root_nodes)
        if per_hour != verdict.cost_per_hour:
            self._accrue(inc, now)
        verdict.affected = affected
        verdict.cost_per_hour = per_hour
        verdict.currency = currency or graph.defaults.currency
        settings = self.settings.priority
        criticalities = [graph.nodes[n].criticality for n in ranking.root_nodes]
        criticalities += [graph.nodes[b].criticality for b in affected.business_services]
        level = priority.impact_level(affected.users, per_hour, criticalities, settings)
        urgency = priority.current_urgency(
            [a.severity for a in inc.alerts.values() if a.active],
            [a.severity for a in inc.alerts.values()],
            verdict.urgency if inc.version else None,
            settings,
        )
        new_priority = priority.priority_of(level, urgency, settings)
        if inc.version and new_priority != verdict.priority and inc.status == "open":
            inc.anchor = now  # a change of priority restarts the update cadence
        verdict.impact, verdict.urgency, verdict.priority = level, urgency, new_priority
        verdict.assignment_group = self._assignment(inc, ranking.root_nodes)
        inc.assessed = True

    def _assignment(self, inc: Incident, roots: tuple[str, ...]) -> str | None:
        for root in roots:
            owner = self._topology.nodes[root].owner
            if owner:
                return owner
        for state in inc.alerts.values():
            for label in ("team", "owner"):
                if state.labels.get(label):
                    return state.labels[label]
        return None

    def _accrue(self, inc: Incident, now: datetime) -> None:
        if inc.cost_since is not None and now > inc.cost_since:
            hours = (now - inc.cost_since).total_seconds() / 3600
            inc.cost_accrued += inc.assessment.cost_per_hour * hours
            inc.cost_since = now

    @staticmethod
    def _digest(inc: Incident) -> tuple[Any, ...]:
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
        )

    # -- state ----------------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        return {
            "clock": self.clock.isoformat() if self.clock else None,
            "counters": dict(self.counters),
            "tombstones": {k: v.isoformat() for k, v in self._tombstones.items()},
        }

    def _new_index(self, topology: Topology) -> grouping.GroupingIndex:
        return grouping.GroupingIndex(
            topology,
            self.settings.grouping,
            background=lambda: len(self._open),
        )

    def _rebuild_indexes(self) -> None:
        self._index = self._new_index(self._topology)
        self._open = {i.id for i in self.incidents.values() if i.status == "open"}
        self._unmapped_open.clear()
        self._resolved_by_root.clear()
        self._timers.clear()
        for inc in self.incidents.values():
            for state in inc.alerts.values():
                state.indexed = False
        hold_down = self.settings.lifecycle.hold_down
        for inc in sorted(self.incidents.values(), key=lambda i: (i.opened_at, i.id)):
            if inc.status == "open":
                for state in inc.alerts.values():
                    self._index_member(inc.id, state)
                    if state.indexed and not state.active and state.ends_at is not None:
                        self._schedule_at(
                            state.ends_at + self.settings.grouping.window,
                            "stale",
                            state.fingerprint,
                        )
                    if (
                        state.node is not None
                        and state.node in self._topology.nodes
                        and state.active
                        and self.alerts.get(state.fingerprint) is state
                    ):
                        self._index.set_active(state.node, +1)
                    if state.flapping:
                        self._schedule(
                            flapping.settle_deadline(state, self.settings.flapping), "settle", state
                        )
                if inc.unmapped_key:
                    self._unmapped_open[inc.unmapped_key] = inc.id
                if inc.quiet_since is not None:
                    self._schedule_at(inc.quiet_since + hold_down, "hold_down", inc.id)
            elif inc.status == "resolved" and inc.resolved_at is not None:
                for root in inc.assessment.root_nodes:
                    self._resolved_by_root.setdefault(root, set()).add(inc.id)
                self._schedule_at(
                    inc.resolved_at + self.settings.lifecycle.reopen_window, "forget", inc.id
                )
        if self.clock is not None:
            for state in self.alerts.values():
                if state.suppressed_by is not None and state.active:
                    self._schedule_unmute(state, self.clock)
