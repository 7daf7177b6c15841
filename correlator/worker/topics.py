"""The topics a worker needs, created when missing (or only checked, with `create_topics` off)."""

from __future__ import annotations

from correlator.worker.config import ConfigError, WorkerConfig
from correlator.worker.ports import Clients, TopicSpec

#: 8 MiB records on the compacted topics: an incident record of a large storm, or the state of
#: one large incident, must never be refused (a refused record stops the worker).
MAX_COMPACTED_RECORD = 8 * 1024 * 1024


def topic_specs(config: WorkerConfig) -> list[TopicSpec]:
    p = config.partitions
    rf = config.replication_factor
    compact = {"cleanup.policy": "compact", "max.message.bytes": str(MAX_COMPACTED_RECORD)}
    retained = {"cleanup.policy": "delete", "retention.ms": str(config.retention_ms)}
    return [
        TopicSpec(config.alerts_topic, p.alerts, rf, retained),
        TopicSpec(config.repartition_topic_name, p.repartition, rf, retained),
        TopicSpec(config.state_topic_name, p.repartition, rf, compact),
        TopicSpec(config.incidents_topic, p.incidents, rf, compact),
        TopicSpec(config.dlq_topic, p.dlq, rf, retained),
        # Extra outputs (config `outputs`) are incident records too: keyed, compacted.
        *(TopicSpec(output.topic, p.incidents, rf, compact) for output in config.outputs),
    ]


def ensure_topics(config: WorkerConfig, clients: Clients) -> int:
    """Create (or check) the topics; return the repartition topic's partition count, which is
    the number of engines of the group."""
    counts = _counts(config, clients)
    repartition, state = config.repartition_topic_name, config.state_topic_name
    partitions = counts[repartition]
    if counts[state] < partitions:
        raise ConfigError(
            f"state topic {state} has {counts[state]} partitions, "
            f"fewer than the {partitions} of {repartition}"
        )
    return partitions


def _counts(config: WorkerConfig, clients: Clients) -> dict[str, int]:
    specs = topic_specs(config)
    admin = clients.admin()
    try:
        if config.create_topics:
            return admin.ensure_topics(specs)
        counts = admin.describe([spec.name for spec in specs])
    finally:
        admin.close()
    missing = [spec.name for spec in specs if spec.name not in counts]
    if missing:
        raise ConfigError(f"topics missing (and create_topics is off): {missing}")
    return counts


__all__ = ["MAX_COMPACTED_RECORD", "ensure_topics", "topic_specs"]
