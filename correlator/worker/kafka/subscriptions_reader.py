"""Reads the compacted subscriptions topic into a `SubscriptionFeed`, on a daemon thread.

Like the desk view's reader, no consumer group: every worker reads every partition from the
beginning, because the engine that owns an incident may be on any worker and moves at each
rebalance. Reading from the beginning after a restart is what makes subscriptions survive it;
the feed and the engine ignore what they have already seen.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from correlator.desk.subscriptions import SubscriptionDecodeError, decode_subscription
from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.admin import KafkaTopicAdmin
from correlator.worker.kafka.options import client_options, only_known
from correlator.worker.ports import TopicSpec
from correlator.worker.subscriptions import SubscriptionFeed
from kafka import KafkaConsumer, TopicPartition

log = logging.getLogger(__name__)

POLL_MS = 200
RETRY_SECONDS = 2.0


class SubscriptionsReader:
    def __init__(self, config: WorkerConfig, feed: SubscriptionFeed, topic: str) -> None:
        options: dict[str, Any] = client_options(config)
        options.update(group_id=None, enable_auto_commit=False, auto_offset_reset="earliest")
        self._options = only_known(options, KafkaConsumer.DEFAULT_CONFIG)
        self._config = config
        self.feed = feed
        self.topic = topic
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="correlator-subscriptions", daemon=True
        )

    def start(self) -> SubscriptionsReader:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        created = not self._config.create_topics
        while not self._stop.is_set():
            try:
                if not created:
                    self._create()
                    created = True
                self._read()
            except Exception as exc:  # the broker went away: start over; the feed dedupes
                self.error = exc
                log.warning("reading %s failed, retrying: %s", self.topic, exc)
                self._stop.wait(RETRY_SECONDS)

    def _create(self) -> None:
        # The desk creates it too (whichever runs first); creating an existing topic is a no-op.
        admin = KafkaTopicAdmin(self._config)
        try:
            compact = {"cleanup.policy": "compact"}
            admin.ensure_topics(
                [TopicSpec(self.topic, 1, self._config.replication_factor, compact)]
            )
        finally:
            admin.close()

    def _read(self) -> None:
        consumer = KafkaConsumer(**self._options)
        try:
            parts = consumer.partitions_for_topic(self.topic)
            while not parts and not self._stop.is_set():
                self._stop.wait(0.5)
                parts = consumer.partitions_for_topic(self.topic)
            if not parts:
                return
            tps = [TopicPartition(self.topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            while not self._stop.is_set():
                for records in consumer.poll(timeout_ms=POLL_MS, max_records=5000).values():
                    for record in records:
                        try:
                            self.feed.offer(decode_subscription(record.value))
                        except SubscriptionDecodeError as exc:
                            log.info("skipped a subscriptions record: %s", exc)
        finally:
            consumer.close(autocommit=False)


__all__ = ["SubscriptionsReader"]
