"""Every metric of the worker, on one injectable `CollectorRegistry` (CONTRACT §5).

Names follow Prometheus conventions: `correlator_` prefix, base units (seconds), `_total`
counters, no label dimension in a name (`..._by_group` is a label), no `_created` series, and
the standard `process_*`, `python_*` and GC collectors on the same registry. No label carries
an incident id, an alert fingerprint or a person: label values come from small fixed sets
(formats, reasons, statuses, priorities, partitions, resolver groups of the topology).

Values the loop owns (engine statistics, consumer positions) are published as immutable
snapshots that custom collectors read at scrape time: the HTTP thread never touches the Kafka
consumer (kafka-python's consumer is not thread-safe) or an engine.
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from correlator.core import EngineStats
from correlator.worker.ports import TP

try:
    VERSION = metadata.version("incident-correlator")
except metadata.PackageNotFoundError:  # running from a checkout
    VERSION = "0.1.0+checkout"

# `_created` series double every counter and histogram and nobody graphs them (issue 12).
# A process-wide switch in prometheus_client: set when the worker's metrics are imported.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: Per-event latencies: from sub-millisecond processing to a backlog hours old.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
AGE_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600)
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
RESTORE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
#: Engine counters exported as worker counters (`EngineCounters`): engine name -> metric.
ENGINE_COUNTERS = {
    "incidents_reopened": "correlator_incidents_reopened_total",
    "incidents_repeated": "correlator_incidents_repeated_total",
}
#: Incident durations: a blip of minutes to an outage of days.
DURATION_BUCKETS = (60, 300, 600, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600)


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


class _SnapshotCollector(Collector):
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


class _BoundsCollector(Collector):
    """The engines' bound counters (`core.bounds`), summed over this worker's engines. They
    live in the engines' persisted state, so they survive restarts and move with partitions."""

    def __init__(self) -> None:
        self.dropped = 0
        self.expired = 0

    def publish(self, stats: Iterable[EngineStats | None]) -> None:
        known = [one for one in stats if one is not None]
        self.dropped = sum(one.alerts_dropped_cap for one in known)
        self.expired = sum(one.alerts_expired_stale for one in known)

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


class Metrics:
    """The worker's metrics. Each test builds its own with a fresh registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        _standard_collectors(r)
        self.build_info = Info("correlator_build", "Version of the running worker.", registry=r)
        self.build_info.info({"version": VERSION, "python": platform.python_version()})
        self.events_consumed = Counter(
            "correlator_events_consumed_total",
            "Input messages consumed, by detected format and outcome.",
            ["format", "outcome"],
            registry=r,
        )
        self.alerts_decoded = Counter(
            "correlator_alerts_decoded_total",
            "Alerts decoded from input messages (a webhook carries several), by format.",
            ["format"],
            registry=r,
        )
        self.dead_letters = Counter(
            "correlator_dead_letters_total",
            "Messages sent to the dead-letter topic, by reason code.",
            ["reason"],
            registry=r,
        )
        self.duplicates = Counter(
            "correlator_duplicates_skipped_total",
            "Re-delivered records skipped because the state had applied them already.",
            registry=r,
        )
        self.processing = Histogram(
            "correlator_processing_duration_seconds",
            "Time to process one batch: decode, correlate, produce, flush and commit.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_records = Counter(
            "correlator_records_processed_total",
            "Records processed, by stage (decode: alerts topic; correlate: repartition topic).",
            ["stage"],
            registry=r,
        )
        self.event_age = Histogram(
            "correlator_event_age_seconds",
            "Wall time minus event time when the engine ingests an alert.",
            buckets=AGE_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "correlator_end_to_end_latency_seconds",
            "From the input message's Kafka timestamp to its outputs being flushed.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.updates_published = Counter(
            "correlator_incident_updates_published_total",
            "Incident updates published, by incident status.",
            ["status"],
            registry=r,
        )
        self.user_time_lost = Counter(
            "correlator_user_time_lost_seconds_total",
            "Productive time lost: people affected x seconds, by event time (divide by 3600 "
            "for user-hours; promtool insists on base units in names).",
            registry=r,
        )
        self.resolve_time = Histogram(
            "correlator_incident_resolve_seconds",
            "From opening to resolution, for resolved incidents, by priority and resolver "
            "group (the topology's assignment groups; 'none' when unassigned).",
            ["priority", "assignment_group"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.subscriptions_applied = Counter(
            "correlator_subscriptions_applied_total",
            "Subscriptions the engines of this worker applied (the owner of the incident "
            "published a version listing the person), or failed on.",
            ["outcome"],
            registry=r,
        )
        self.engine_counters = EngineCounters(self)
        self.topology_nodes = Gauge(
            "correlator_topology_nodes", "Nodes in the loaded topology.", registry=r
        )
        self.topology_reload_time = Gauge(
            "correlator_topology_last_reload_timestamp_seconds",
            "When the topology in use was loaded (Unix time).",
            registry=r,
        )
        self.topology_reloads = Counter(
            "correlator_topology_reloads_total", "Topology reloads that were applied.", registry=r
        )
        self.topology_reload_successful = Gauge(
            "correlator_topology_last_reload_successful",
            "1 when the last topology load or reload succeeded, 0 when it was refused "
            "(as prometheus_config_last_reload_successful).",
            registry=r,
        )
        self.topology_reload_failures = Counter(
            "correlator_topology_reload_failures_total",
            "Topology reloads refused (the last good topology stays in use).",
            registry=r,
        )
        self.restore_duration = Histogram(
            "correlator_state_restore_duration_seconds",
            "Time to restore engine state from the changelog after an assignment.",
            buckets=RESTORE_BUCKETS,
            registry=r,
        )
        self.restored_records = Counter(
            "correlator_state_restored_records_total",
            "Changelog records read while restoring state.",
            registry=r,
        )
        self.changelog_records = Counter(
            "correlator_state_changelog_records_total",
            "Records written to the state changelog.",
            registry=r,
        )
        self.engine_errors = Counter(
            "correlator_engine_errors_total",
            "Alerts the engine failed on (dead-lettered with reason engine_error).",
            registry=r,
        )
        self.rebalances = Counter(
            "correlator_rebalances_total", "Partition assignments received.", registry=r
        )
        self.commit_failures = Counter(
            "correlator_commit_failures_total",
            "Offset commits refused because the group rebalanced meanwhile.",
            registry=r,
        )
        self.ticks = Counter(
            "correlator_idle_ticks_total",
            "Ticks of idle engines driven by the wall clock.",
            registry=r,
        )
        self.ready = Gauge("correlator_ready", "1 when /readyz succeeds.", registry=r)
        self.last_heartbeat = Gauge(
            "correlator_loop_heartbeat_timestamp_seconds",
            "When the processing loop last completed an iteration (Unix time).",
            registry=r,
        )
        # -- reliability bounds (RELIABILITY.md; each bound has its metric) ------------------
        self.records_refused = Counter(
            "correlator_records_refused_total",
            "Records the worker would not or could not produce (too large, invalid): each "
            "dropped and noted in the dead-letter topic, the worker carries on.",
            ["topic"],
            registry=r,
        )
        self.broker_up = Gauge(
            "correlator_broker_up",
            "1 while the worker reaches the Kafka cluster (its group coordinator).",
            registry=r,
        )
        self.broker_unreachable = Gauge(
            "correlator_broker_unreachable_seconds",
            "How long the Kafka cluster has been unreachable (0 while reachable).",
            registry=r,
        )
        self.engine_bounds = _BoundsCollector()
        r.register(self.engine_bounds)
        # -- end of reliability bounds ------------------------------------------------------
        self.snapshots = _SnapshotCollector()
        r.register(self.snapshots)
        for outcome in ("applied", "error"):
            self.subscriptions_applied.labels(outcome=outcome)
        for reason in ("not_json", "unknown_shape", "bad_timestamp", "too_large", "invalid_field"):
            self.dead_letters.labels(reason=reason)

    def publish_engine(self, snapshot: EngineSnapshot) -> None:
        self.snapshots.publish(engine=snapshot)

    def publish_lag(self, snapshot: LagSnapshot) -> None:
        self.snapshots.publish(lag=snapshot)


def _standard_collectors(registry: CollectorRegistry) -> None:
    """`process_*`, `python_info` and `python_gc_*` on `registry`. On the default registry
    prometheus_client registers them itself; registering them twice would fail."""
    from prometheus_client import REGISTRY  # noqa: PLC0415

    if registry is REGISTRY:
        return
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


class EngineCounters:
    """Worker counters from the engines' own cumulative counters (`Correlator.counters`:
    `incidents_reopened`, `incidents_repeated`), which live in the engine state and move with
    a partition. Each engine's growth since it was first seen here is added to a counter of
    this worker, so `sum(rate(...))` over workers stays right across rebalances. An engine
    first seen after a restore starts from its restored values (they were counted by the
    worker that had it); what it adds during that first batch is the price of not touching the
    restore path. Engines without counters, or without one of the names, count nothing."""

    def __init__(self, metrics: Metrics) -> None:
        self._counters = {
            name: Counter(metric, _COUNTER_HELP[name], registry=metrics.registry)
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
