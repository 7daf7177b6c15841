"""Reading state partitions back on restore, with a consumer of its own (no group)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.lib import KafkaConsumer, TopicPartition
from correlator.worker.kafka.messages import to_message
from correlator.worker.kafka.options import client_options, only_known
from correlator.worker.ports import Message


class KafkaChangelogReader:
    """Reads state partitions to their end with a group-less consumer (Kafka Streams'
    "restore consumer"), fresh for every restore so no stale high watermark is trusted."""

    def __init__(
        self, config: WorkerConfig, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._mono = monotonic

    def read_to_end(self, topic: str, partitions: Sequence[int]) -> Iterator[Message]:
        if not partitions:
            return
        options = client_options(self._config)
        options.update(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Restore reads whole partitions: large fetches, short waits.
            max_partition_fetch_bytes=16 * 1024 * 1024,
            fetch_max_wait_ms=50,
        )
        consumer = KafkaConsumer(**only_known(options, KafkaConsumer.DEFAULT_CONFIG))
        try:
            tps = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            pending = set(tps)
            deadline = self._mono() + self._config.restore_timeout.total_seconds()
            while pending:
                if self._mono() > deadline:
                    raise TimeoutError(f"restoring {topic} {sorted(partitions)} took too long")
                batch = consumer.poll(timeout_ms=200, max_records=10_000)
                for records in batch.values():
                    yield from (to_message(r) for r in records)
                for tp in list(pending):
                    # The high watermark arrives with the first fetch response (0 for an
                    # empty partition); the position is where the next fetch starts.
                    highwater = consumer.highwater(tp)
                    if highwater is not None and consumer.position(tp) >= highwater:
                        pending.discard(tp)
        finally:
            consumer.close(autocommit=False)

    def close(self) -> None:
        pass
