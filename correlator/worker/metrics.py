"""Every metric of the worker, on one injectable `CollectorRegistry` (docs/worker.md, health).

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

from correlator.worker.engine_metrics import (
    BoundsCollector,
    EngineCounters,
    EngineSnapshot,
    LagSnapshot,
    SnapshotCollector,
    engine_snapshot,
)

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
#: Incident durations: a blip of minutes to an outage of days.
DURATION_BUCKETS = (60, 300, 600, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600)


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
        self.engine_counters = EngineCounters(self.registry)
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
        self.engine_bounds = BoundsCollector()
        r.register(self.engine_bounds)
        self.gc_freeze_duration = Histogram(
            "correlator_gc_freeze_duration_seconds",
            "A collection and gc.freeze(): young every gc_freeze_interval, full (everything "
            "unfrozen first) after a restore and every gc_full_interval.",
            ["kind"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.heap_trim_duration = Histogram(
            "correlator_heap_trim_duration_seconds",
            "How long giving freed memory back to the system took (malloc_trim).",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=r,
        )
        self.heap_trim_released = Counter(
            "correlator_heap_trim_released_bytes_total",
            "Resident memory given back to the system by malloc_trim (RSS before - after).",
            registry=r,
        )
        # -- end of reliability bounds ------------------------------------------------------
        self.snapshots = SnapshotCollector()
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


__all__ = ["EngineSnapshot", "LagSnapshot", "Metrics", "engine_snapshot"]
