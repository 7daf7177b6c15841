"""Feeds a `DeskView` from the compacted incidents topic (and the subscriptions topic), on a
daemon thread, so every worker can answer the desk API for every incident.

No consumer group: the reader assigns itself every partition and seeks to the beginning,
as Kafka Streams' global tables do. A group would split the partitions between workers, and
each worker must see all of them. The view is ready once the reader reached the end offsets
it read when it started: a restarted worker reports ready only with a complete view.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from correlator.desk.api import Desk
from correlator.desk.metrics import DeskCollector
from correlator.desk.subscriptions import (
    SubscriptionDecodeError,
    decode_subscription,
    subscriptions_topic,
)
from correlator.desk.view import DeskView
from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.admin import KafkaTopicAdmin
from correlator.worker.kafka.options import client_options, only_known
from correlator.worker.ports import TopicSpec
from kafka import KafkaConsumer, TopicPartition
from topology import Topology

log = logging.getLogger(__name__)

#: How long to wait for a topic's partitions to be known before trying again (a topic the
#: worker creates at start may not be in the metadata yet).
METADATA_WAIT = 0.5
POLL_MS = 200


class IncidentsViewReader:
    def __init__(
        self,
        view: DeskView,
        *,
        bootstrap: str | None = None,
        incidents_topic: str,
        subscriptions_topic: str | None = None,
        config: WorkerConfig | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        """`config` gives the worker's client options (security...); `bootstrap` alone is
        enough for tests and tools."""
        if config is not None:
            options: dict[str, Any] = client_options(config)
        elif bootstrap is not None:
            options = {"bootstrap_servers": bootstrap.split(",")}
        else:
            raise ValueError("IncidentsViewReader needs a config or a bootstrap address")
        options.update(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
            # Incident records of a big storm reach ~1 MiB.
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        self._options = only_known(options, KafkaConsumer.DEFAULT_CONFIG)
        self.view = view
        self.topics = [incidents_topic] + ([subscriptions_topic] if subscriptions_topic else [])
        self._incidents_topic = incidents_topic
        self._prepare = prepare
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="correlator-desk-view", daemon=True)
        self.error: Exception | None = None

    def start(self) -> IncidentsViewReader:
        self._thread.start()
        return self

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.view.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.view.ready

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._prepare is not None:
                    self._prepare()
                    self._prepare = None
                self._read()
            except Exception as exc:  # the broker went away: start over, the view stays
                self.error = exc
                log.warning("desk view: reading %s failed, retrying: %s", self.topics, exc)
                self._stop.wait(2.0)

    def _partitions(self, consumer: KafkaConsumer) -> list[TopicPartition]:
        while not self._stop.is_set():
            found: list[TopicPartition] = []
            missing = []
            for topic in self.topics:
                parts = consumer.partitions_for_topic(topic)
                if not parts:
                    missing.append(topic)
                found.extend(TopicPartition(topic, p) for p in sorted(parts or ()))
            if not missing:
                return found
            log.info("desk view: waiting for topics %s", missing)
            self._stop.wait(METADATA_WAIT)
        return []

    def _read(self) -> None:
        consumer = KafkaConsumer(**self._options)
        try:
            tps = self._partitions(consumer)
            if not tps:
                return
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            ends: dict[TopicPartition, int] = consumer.end_offsets(tps)
            pending = {tp for tp, end in ends.items() if end > 0}
            if not pending:
                self.view.ready = True
            while not self._stop.is_set():
                batch = consumer.poll(timeout_ms=POLL_MS, max_records=5000)
                for tp, records in batch.items():
                    self._apply(tp.topic, records)
                if pending:
                    pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}
                    if not pending:
                        log.info("desk view: caught up, %d incidents", len(self.view))
                        self.view.ready = True
        finally:
            consumer.close(autocommit=False)

    def _apply(self, topic: str, records: Sequence[Any]) -> None:
        if topic == self._incidents_topic:
            for r in records:
                self.view.apply(r.key, r.value)
            return
        for r in records:
            try:
                sub = decode_subscription(r.value)
            except SubscriptionDecodeError as exc:
                log.info("desk view: skipped a subscription record: %s", exc)
                continue
            self.view.add_subscription(sub.incident, sub.user, sub.requested_at)


@dataclass(slots=True)
class DeskRuntime:
    """What `open_desk` started: the desk for `HttpService`, the reader behind it."""

    desk: Desk
    reader: IncidentsViewReader
    subscriptions_topic: str

    def close(self) -> None:
        self.reader.close()


def open_desk(
    config: WorkerConfig,
    registry: CollectorRegistry,
    topology: Callable[[], Topology | None],
    *,
    topic: str | None = None,
) -> DeskRuntime:
    """Start a worker's desk: its view of the incidents and subscriptions topics (read on a
    thread), and the desk's process metrics on `registry`. The subscriptions topic
    (`<group id>-subscriptions` unless `topic`) is created compacted when missing, from the
    reader's thread, so a broker still starting delays the view, not the worker."""
    name = subscriptions_topic(config.group_id, topic)
    view = DeskView()
    registry.register(DeskCollector(view, topology))

    def prepare() -> None:
        if not config.create_topics:
            return
        admin = KafkaTopicAdmin(config)
        try:
            compact = {"cleanup.policy": "compact"}
            admin.ensure_topics([TopicSpec(name, 1, config.replication_factor, compact)])
        finally:
            admin.close()

    reader = IncidentsViewReader(
        view,
        config=config,
        incidents_topic=config.incidents_topic,
        subscriptions_topic=name,
        prepare=prepare,
    ).start()
    token = config.http_token.get_secret_value() if config.http_token else None
    return DeskRuntime(Desk(view, topology, None, token), reader, name)
