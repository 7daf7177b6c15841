"""Kafka helpers only tests and benchmarks need: a group's committed offsets and a topic's log
end offsets (the product reads neither)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaConsumer, TopicPartition

from correlator.worker.ports import TP


def committed_offsets(
    bootstrap_servers: str, group_id: str, partitions: Iterable[TP]
) -> dict[TP, int | None]:
    """A group's committed offsets (OffsetFetch; does not join the group)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers.split(","),
        group_id=group_id,
        enable_auto_commit=False,
    )
    try:
        return {tp: consumer.committed(TopicPartition(tp.topic, tp.partition)) for tp in partitions}
    finally:
        consumer.close(autocommit=False)


def end_offsets(bootstrap_servers: str, topic: str, *, timeout: float = 30.0) -> dict[TP, int]:
    """Log end offsets by reading each partition to its high watermark (Tansu's ListOffsets
    cannot be trusted for this; see the notes of `correlator.worker.kafka.client`)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers.split(","),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
    )
    try:
        deadline = time.monotonic() + timeout
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.1)
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise RuntimeError(f"topic {topic} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while time.monotonic() < deadline:
            consumer.poll(timeout_ms=100)
            marks = {tp: consumer.highwater(tp) for tp in tps}
            if all(m is not None and consumer.position(tp) >= m for tp, m in marks.items()):
                return {TP(tp.topic, tp.partition): int(m or 0) for tp, m in marks.items()}
        return {}
    finally:
        consumer.close(autocommit=False)


__all__ = ["committed_offsets", "end_offsets"]
