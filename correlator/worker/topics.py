"""The topics a worker needs, created when missing (or only checked, with `create_topics` off),
and the worker's view of the broker (`BrokerWatch`).

`ensure_topics` refuses to start when the topics exist with other partition counts than the
ones configured: after a broker lost its data and auto-created the topics with its defaults,
carrying on would route alerts of one domain to several engines and read state from the wrong
partitions, silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from correlator.worker.config import ConfigError, WorkerConfig
from correlator.worker.http import Health
from correlator.worker.metrics import Metrics
from correlator.worker.ports import Clients, Consumer, TopicSpec

log = logging.getLogger("correlator.worker.loop")

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
    check_partitions(config, counts)
    repartition, state = config.repartition_topic_name, config.state_topic_name
    partitions = counts[repartition]
    if counts[state] < partitions:
        raise ConfigError(
            f"state topic {state} has {counts[state]} partitions, "
            f"fewer than the {partitions} of {repartition}"
        )
    return partitions


def check_partitions(config: WorkerConfig, counts: dict[str, int]) -> None:
    """Refuse topics whose partition counts differ from the configuration (see the module
        notes). Only the internal topics are held to it: their partition counts are the engines
    of the group. The alerts topic belongs to its producers, and the incidents and dead-letter
    topics work with any count."""
    strict = (config.repartition_topic_name, config.state_topic_name)
    wrong = [
        f"{spec.name} has {counts[spec.name]} partitions, configured {spec.partitions}"
        for spec in topic_specs(config)
        if spec.name in strict and spec.name in counts and counts[spec.name] != spec.partitions
    ]
    if wrong:
        raise ConfigError(
            "topic partition counts differ from the configuration: "
            + "; ".join(wrong)
            + ". If the broker lost its data and re-created the topics, delete them and let the "
            "worker create them again; if you changed `partitions:` on purpose, see "
            "docs/worker.md (the repartition count is fixed for the life of a group)"
        )


class BrokerWatch:
    """Polls the consumer's view of the broker once per loop iteration (no I/O) into
    `Health` (/readyz) and the `correlator_broker_up` gauge."""

    def __init__(
        self,
        health: Health,
        metrics: Metrics,
        monotonic: Callable[[], float],
        *,
        timeout: float = 30.0,
    ) -> None:
        health.broker_timeout = timeout
        self._health = health
        self._metrics = metrics
        self._mono = monotonic
        self._down_since: float | None = None

    def observe(self, consumer: Consumer) -> None:
        up = consumer.reachable()
        self._metrics.broker_up.set(1 if up else 0)
        if up:
            if self._down_since is not None:
                log.info("broker reachable again")
            self._down_since = None
            self._health.broker_unreachable_for = 0.0
        else:
            now = self._mono()
            if self._down_since is None:
                self._down_since = now
                log.warning("broker unreachable (group coordinator unknown or disconnected)")
            self._health.broker_unreachable_for = now - self._down_since
        self._metrics.broker_unreachable.set(self._health.broker_unreachable_for)


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


__all__ = [
    "MAX_COMPACTED_RECORD",
    "BrokerWatch",
    "check_partitions",
    "ensure_topics",
    "topic_specs",
]
