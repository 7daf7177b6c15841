"""The pure Correlator: alerts in, incident updates out.

No I/O, no threads, no wall clock: time arrives as an argument, so the worker, `replay` and the
tests drive the same object and the same input always gives the same output. This class is only
the front door; the work is done by the modules it calls:

* `alerts`      one alert event against what is known of it (dedup, flapping);
* `pipeline`    the rules, in order: suppression -> grouping, then per incident
                root cause -> impact -> priority -> assignment (`assess`);
* `lifecycle`   the incident state machine (open, merge, resolve, reopen, forget);
* `timers`      what must happen later, and `timers_for`, which says what an item needs;
* `publish`     whether an incident changed enough to publish, and its new record;
* `persist`     snapshot, changelog and restore, keyed by `keys.StateKey`;
* `store`       the state all of them act on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from correlator.core import alerts as events
from correlator.core import bounds, lifecycle, membership, persist, publish
from correlator.core.keys import META
from correlator.core.model import Alert, Change, IncidentPhase, TimerKind, utc
from correlator.core.persist import StateValue
from correlator.core.settings import EngineSettings
from correlator.core.state import AlertState, Incident
from correlator.core.store import IncidentUpdate, RecordRenderer, Store
from correlator.core.timers import Timer
from correlator.rules.suppression import compile_silences
from topology import Topology


@dataclass(slots=True)
class EngineStats:
    """What the worker exports as metrics."""

    incidents: int = 0
    """incidents held: open, or resolved within their reopen window"""
    active_alerts: int = 0
    suppressed_alerts: int = 0
    open_incidents_by_priority: dict[int, int] = field(default_factory=dict)
    open_incidents_by_group: dict[str, int] = field(default_factory=dict)
    people_affected: int = 0
    alerts_dropped_cap: int = 0
    """New alerts dropped at `bounds.max_alerts` (`core.bounds`), since the state began."""
    alerts_expired_stale: int = 0
    """Firing alerts resolved as stale (`core.bounds`), since the state began."""
    held_alerts: int = 0
    """alerts held: firing, suppressed, or resolved and not yet forgotten"""
    tombstones: int = 0
    """forgotten alerts remembered so that a late re-send is known stale (`lifecycle`)"""
    timers: int = 0
    """timers waiting, live and stale (`timers.TimerWheel.overgrown` bounds them)"""


class Correlator:
    def __init__(
        self,
        topology: Topology,
        settings: EngineSettings | None = None,
        *,
        render: RecordRenderer,
    ) -> None:
        """`render` builds each published record (`correlator.wire.render.record.build_record`)."""
        self.settings = settings or EngineSettings()
        self._silences = compile_silences(self.settings.silences, self.settings.maintenance)
        self._render = render
        self._st = self._new_store(topology)
        self._swept: datetime | None = None  # event time of the last stale sweep (`bounds`)

    def _new_store(self, topology: Topology) -> Store:
        return Store(self.settings, topology, self._render, self._silences)

    # -- what callers read ---------------------------------------------------------------------

    @property
    def topology(self) -> Topology:
        return self._st.topology

    @property
    def clock(self) -> datetime | None:
        """The engine's event time: the latest time it was given."""
        return self._st.clock

    @property
    def alerts(self) -> Mapping[str, AlertState]:
        """Every alert held, by fingerprint (read-only: change them through `ingest`)."""
        return self._st.alerts

    @property
    def incidents(self) -> Mapping[str, Incident]:
        """Every incident held (open, or resolved within its reopen window), by id."""
        return self._st.incidents

    @property
    def counters(self) -> Mapping[str, int]:
        """Running totals: `alerts_<verdict>`, `incidents_merged`, `updates_published`, ..."""
        return self._st.counters

    def stats(self) -> EngineStats:
        st = self._st
        stats = EngineStats(
            incidents=len(st.incidents),
            held_alerts=len(st.alerts),
            tombstones=len(st.tombstones),
            timers=len(st.timers),
            alerts_dropped_cap=st.counters["alerts_dropped_cap"],
            alerts_expired_stale=st.counters["alerts_expired_stale"],
        )
        for alert in st.alerts.values():
            if alert.suppressed_by is not None:
                stats.suppressed_alerts += 1
            elif alert.active:
                stats.active_alerts += 1
        for inc in st.incidents.values():
            if inc.status != IncidentPhase.OPEN:
                continue
            verdict = inc.assessment
            by_priority = stats.open_incidents_by_priority
            by_priority[verdict.priority] = by_priority.get(verdict.priority, 0) + 1
            group = verdict.assignment_group or "unassigned"
            stats.open_incidents_by_group[group] = stats.open_incidents_by_group.get(group, 0) + 1
            if inc.has_active:
                stats.people_affected += verdict.affected.users
        return stats

    # -- what callers do -----------------------------------------------------------------------

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
            if not bounds.refuse(self._st, alert):
                events.apply(self._st, alert, now)
        if now is not None:
            updates.extend(publish.publish(self._st, now))
            self._st.dirty.add(META)  # the counters moved (`alerts_<verdict>` at least)
        return updates

    def subscribe(self, incident_id: str, user: str, now: datetime) -> list[IncidentUpdate]:
        """Add `user` to the subscribers of `incident_id` and publish a version listing them.

        Idempotent; [] when this engine does not hold the incident (the worker asks every
        engine partition) or `user` is already subscribed. `now` advances event time as an
        alert would, so the timers due by then fire first."""
        inc = self._st.incidents.get(incident_id)
        if inc is None or user in inc.subscribers:
            return []
        updates = self._run_timers(self._advance(now))
        inc = self._st.incidents.get(incident_id)
        if inc is None:  # forgotten by a timer just now
            return updates
        inc.subscribers.add(user)
        self._st.touch(inc, Change.SUBSCRIBERS)
        updates.extend(publish.publish(self._st, self._st.clock or utc(now)))
        self._st.dirty.add(META)
        return updates

    def tick(self, now: datetime) -> list[IncidentUpdate]:
        """Let time pass with no alert: hold-downs expire, flapping settles, silences end."""
        return self._run_timers(self._advance(now))

    def snapshot(self) -> dict[str, StateValue]:
        return persist.snapshot(self._st)

    def restore(self, state: Mapping[str, object]) -> None:
        """Replace all state with a `snapshot()` (or a changelog read back key by key)."""
        self._st = self._new_store(self._st.topology)
        persist.restore(self._st, state)

    def take_state_changes(self) -> dict[str, StateValue | None]:
        """State keys changed since the last call, with their values (None = deleted)."""
        return persist.take_changes(self._st)

    def replace_topology(self, topology: Topology) -> None:
        """Use a new topology from now on; open incidents keep their alerts and are re-indexed."""
        self._st.topology = topology
        self._st.structures.clear()
        persist.rebuild(self._st)

    # -- time ----------------------------------------------------------------------------------

    def _advance(self, now: datetime) -> datetime:
        st = self._st
        now = bounds.clamp(now)  # the callers refuse such times; a corrupt state may not
        if st.clock is None or now > st.clock or not bounds.in_range(st.clock):
            st.clock = now
            st.dirty.add(META)
        return st.clock

    def _run_timers(self, now: datetime) -> list[IncidentUpdate]:
        st = self._st
        updates: list[IncidentUpdate] = []
        while (timer := st.timers.pop_due(now)) is not None:
            st.dirty.add(META)  # a timer may move the counters
            if _FIRE[timer.kind](st, timer):
                updates.extend(publish.publish(st, timer.when))
        if st.timers.overgrown(len(st.alerts) + len(st.incidents)):
            persist.reschedule(st)
        lifecycle.expire_tombstones(st, now)
        if self._swept is None or now - self._swept >= bounds.SWEEP_EVERY:
            self._swept = now
            stale = bounds.stale_resolves(st, now)
            for alert in stale:
                events.apply(st, alert, now)
            if stale:
                updates.extend(publish.publish(st, now))
        return updates


def _hold_down(st: Store, timer: Timer) -> bool:
    inc = st.incidents.get(timer.key)
    return inc is not None and lifecycle.resolve(st, inc, timer.when)


def _forget(st: Store, timer: Timer) -> bool:
    inc = st.incidents.get(timer.key)
    if inc is not None:
        lifecycle.forget(st, inc, timer.when)
    return False


def _stale(st: Store, timer: Timer) -> bool:
    membership.expire(st, timer.key)
    return False


def _settle(st: Store, timer: Timer) -> bool:
    events.settle(st, timer.key, timer.when)
    return True


def _unmute(st: Store, timer: Timer) -> bool:
    return events.unmute(st, timer.key, timer.when)


def _coalesce(st: Store, timer: Timer) -> bool:
    inc = st.incidents.get(timer.key)
    if inc is None or not inc.pending or inc.updated_at + st.settings.update_interval > timer.when:
        return False
    st.touch(inc, None)
    return True


def _update_due(st: Store, timer: Timer) -> bool:
    inc = st.incidents.get(timer.key)
    if (
        inc is None
        or inc.status != IncidentPhase.OPEN
        or inc.next_update_at is None
        or inc.next_update_at > timer.when
        or inc.updated_at >= inc.next_update_at  # chased already, or a version since
    ):
        return False
    st.touch(inc, Change.UPDATE_DUE)
    return True


#: What each kind of timer does; True when it may have left something to publish.
_FIRE: dict[TimerKind, Callable[[Store, Timer], bool]] = {
    TimerKind.HOLD_DOWN: _hold_down,
    TimerKind.FORGET: _forget,
    TimerKind.STALE: _stale,
    TimerKind.SETTLE: _settle,
    TimerKind.UNMUTE: _unmute,
    TimerKind.COALESCE: _coalesce,
    TimerKind.UPDATE_DUE: _update_due,
}
