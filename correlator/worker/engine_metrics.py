"""The engines' side of the worker's metrics: immutable snapshots the loop publishes and the
collectors read at scrape time, and the engines' own counters turned into worker counters."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from correlator.core import EngineStats
from correlator.worker.ports import TP

#: Engine counters exported as worker counters (`EngineCounters`): engine name -> metric.
ENGINE_COUNTERS = {
    "incidents_reopened": "correlator_incidents_reopened_total",
    "incidents_repeated": "correlator_incidents_repeated_total",
}


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """Engine statistics summed over the worker's engines."""

    active_alerts: int = 0
    suppressed_alerts: int = 0
    open_incidents_by_priority: Mapping[int, int] = field(default_factory=dict)
    open_incidents_by_group: Mapping[str, int] = field(default_factory=dict)
    people_affected: int = 0
    engines: int = 0


def engine_snapshot(stats: Iterable[EngineStats | None], engines: int) -> EngineSnapshot:
    """Sum the statistics of a worker's engines (None: an engine not yet counted)."""
    by_priority: dict[int, int] = {}
    by_group: dict[str, int] = {}
    active = suppressed = people = 0
    for one in stats:
        if one is None:
            continue
        active += one.active_alerts
        suppressed += one.suppressed_alerts
        people += one.people_affected
        for prio, count in one.open_incidents_by_priority.items():
            by_priority[prio] = by_priority.get(prio, 0) + count
        for group, count in one.open_incidents_by_group.items():
            by_group[group] = by_group.get(group, 0) + count
    return EngineSnapshot(
        active_alerts=active,
        suppressed_alerts=suppressed,
        open_incidents_by_priority=by_priority,
        open_incidents_by_group=by_group,
        people_affected=people,
        engines=engines,
    )


@dataclass(frozen=True, slots=True)
class LagSnapshot:
    """Consumer position and log end offset per assigned partition."""

    positions: Mapping[TP, tuple[int, int | None]] = field(default_factory=dict)


class SnapshotCollector(Collector):
    """Reads the latest snapshots the loop published; the loop replaces them whole."""

    def __init__(self) -> None:
        self.engine = EngineSnapshot()
        self.lag = LagSnapshot()
        self._lock = threading.Lock()

    def publish(self, engine: EngineSnapshot | None = None, lag: LagSnapshot | None = None) -> None:
        with self._lock:
            if engine is not None:
                self.engine = engine
            if lag is not None:
                self.lag = lag

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            engine, lag = self.engine, self.lag
        yield GaugeMetricFamily(
            "correlator_active_alerts", "Firing alerts held by the engines.", engine.active_alerts
        )
        yield GaugeMetricFamily(
            "correlator_suppressed_alerts",
            "Firing alerts muted by a silence, a maintenance window or flap damping.",
            engine.suppressed_alerts,
        )
        by_priority = GaugeMetricFamily(
            "correlator_open_incidents",
            "Open incidents by priority (1 highest).",
            labels=["priority"],
        )
        for priority in range(1, 6):
            by_priority.add_metric(
                [str(priority)], engine.open_incidents_by_priority.get(priority, 0)
            )
        yield by_priority
        yield GaugeMetricFamily(
            "correlator_engines",
            "Engines (repartition partitions) this worker runs.",
            engine.engines,
        )
        lag_family = GaugeMetricFamily(
            "correlator_consumer_lag",
            "Records in the partition not yet consumed (log end offset - position).",
            labels=["topic", "partition"],
        )
        for tp, (position, end) in sorted(lag.positions.items()):
            if end is not None:
                lag_family.add_metric([tp.topic, str(tp.partition)], max(0, end - position))
        yield lag_family


class BoundsCollector(Collector):
    """The engines' bound counters (`core.bounds`), summed over this worker's engines. They
    live in the engines' persisted state, so they survive restarts and move with partitions."""

    def __init__(self) -> None:
        self.dropped = 0
        self.expired = 0
        self.held: dict[str, int] = {}

    def publish(self, stats: Iterable[EngineStats | None]) -> None:
        known = [one for one in stats if one is not None]
        self.dropped = sum(one.alerts_dropped_cap for one in known)
        self.expired = sum(one.alerts_expired_stale for one in known)
        self.held = {
            "alerts": sum(one.held_alerts for one in known),
            "incidents": sum(one.incidents for one in known),
            "tombstones": sum(one.tombstones for one in known),
            "timers": sum(one.timers for one in known),
        }

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "correlator_engine_alerts_dropped",
            "New alerts dropped because their engine held bounds.max_alerts already.",
            self.dropped,
        )
        yield GaugeMetricFamily(
            "correlator_engine_alerts_expired_stale",
            "Firing alerts resolved as stale (not re-sent for bounds.stale_after).",
            self.expired,
        )
        held = GaugeMetricFamily(
            "correlator_engine_held",
            "What the engines keep in memory: alerts (firing, or resolved and not yet "
            "forgotten), incidents (open, or resolved within the reopen window), "
            "tombstones (forgotten alerts, at most bounds.max_tombstones per engine) and timers.",
            labels=["kind"],
        )
        for kind in ("alerts", "incidents", "tombstones", "timers"):
            held.add_metric([kind], self.held.get(kind, 0))
        yield held


class EngineCounters:
    """Worker counters from the engines' own cumulative counters (`Correlator.counters`:
    `incidents_reopened`, `incidents_repeated`), which live in the engine state and move with
    a partition. Each engine's growth since it was first seen here is added to a counter of
    this worker, so `sum(rate(...))` over workers stays right across rebalances. An engine
    first seen after a restore starts from its restored values (they were counted by the
    worker that had it); what it adds during that first batch is the price of not touching the
    restore path. Engines without counters, or without one of the names, count nothing."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counters = {
            name: Counter(metric, _COUNTER_HELP[name], registry=registry)
            for name, metric in ENGINE_COUNTERS.items()
        }
        # id -> (engine, last values); the engine is held so that its id is not reused.
        self._last: dict[int, tuple[object, dict[str, int]]] = {}

    def observe(self, engines: Iterable[object]) -> None:
        seen: dict[int, tuple[object, dict[str, int]]] = {}
        for engine in engines:
            values = _read_counters(engine)
            before = self._last.get(id(engine))
            if before is not None:
                for name, value in values.items():
                    grown = value - before[1].get(name, value)
                    if grown > 0:  # a smaller value is a restore: a new baseline
                        self._counters[name].inc(grown)
            seen[id(engine)] = (engine, values)
        self._last = seen


_COUNTER_HELP = {
    "incidents_reopened": "Resolved incidents reopened because their root cause failed again.",
    "incidents_repeated": "New incidents with the root cause of an incident resolved within "
    "the recurrence look-back (a repeat: not fixed the first time).",
}


def _read_counters(engine: object) -> dict[str, int]:
    counters = getattr(engine, "counters", None)
    if not isinstance(counters, Mapping):
        return {}
    out: dict[str, int] = {}
    for name in ENGINE_COUNTERS:
        value = counters.get(name)
        if isinstance(value, int):
            out[name] = value
    return out
