"""Small kafka-python helpers for `correlator demo --kafka`: produce records, watch a topic.

Tests use them too; test-only helpers (offsets a group committed, log end offsets) live in
`tests.support.kafka_tools`, outside the product.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable

with warnings.catch_warnings():
    # See `client`: kafka-python's deprecated importlib use would fail warnings-as-errors runs.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from correlator.worker.kafka.messages import to_message
from correlator.worker.ports import Message


def produce(
    bootstrap_servers: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None, int | None]],
    *,
    partition: int | None = None,
) -> int:
    """Send (key, value, timestamp_ms) records and wait for all of them; returns the count."""
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers.split(","), acks="all")
    try:
        futures = [
            producer.send(topic, key=key, value=value, timestamp_ms=ts, partition=partition)
            for key, value, ts in records
        ]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)
        return len(futures)
    finally:
        producer.close(timeout=10)


class TopicTail:
    """Reads every partition of a topic from its start, without a group (to watch outputs)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        wait: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers.split(","),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        deadline = monotonic() + wait
        partitions = self._consumer.partitions_for_topic(topic)
        while not partitions and monotonic() < deadline:
            sleep(0.1)
            partitions = self._consumer.partitions_for_topic(topic)
        if not partitions:
            self._consumer.close()
            raise RuntimeError(f"topic {topic} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        self._consumer.seek_to_beginning(*tps)

    def poll(self, timeout: float = 0.5) -> list[Message]:
        batch = self._consumer.poll(timeout_ms=int(timeout * 1000))
        return [to_message(r) for records in batch.values() for r in records]

    def close(self) -> None:
        self._consumer.close(autocommit=False)

    def __enter__(self) -> TopicTail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["TopicTail", "produce"]
