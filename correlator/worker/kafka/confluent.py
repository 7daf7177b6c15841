"""`client: confluent`: the `correlator.worker.ports` Producer on confluent-kafka (librdkafka).

The one module that imports confluent-kafka, and only when a worker is configured with
`client: confluent` (it is an optional dependency). kafka-python's `KafkaProducer.send` costs
~36% of the worker's main thread at full load (Python record batching and a future per
record); librdkafka batches, compresses and sends on its own C threads, and the only Python
work left per record is the `produce()` call. The group consumer is librdkafka's too
(`ConfluentGroupConsumer`: fetching, decompressing and parsing off the GIL). The state reader
(restore) and the admin client stay on kafka-python (`.client`).

Semantics kept from `correlator.worker.kafka.client.KafkaRecordProducer`:

* acks=all and idempotence (same reasons); records of one key go to the partition
  kafka-python (and the Java client) would pick (`partitioner=murmur2_random`), so switching
  clients never splits an incident's updates, or a compacted key, over two partitions;
* `send` raises ProduceError at once for a record that can never be delivered (larger than
  `kafka.max_request_size`, librdkafka's `message.max.bytes`), or a fatal producer error;
  when the local queue is full it waits up to 30 s for space, as kafka-python's `max_block_ms`;
* a record the cluster refuses, or does not acknowledge within `kafka.delivery_timeout_ms`,
  fails the next `flush`. Only failed records get a delivery report
  (`delivery.report.only.error`), so a successful record costs no Python callback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

try:
    import confluent_kafka
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "client: confluent needs confluent-kafka: pip install 'confluent-kafka>=2.4'"
    ) from exc

from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.admin import KafkaTopicAdmin
from correlator.worker.kafka.changelog import KafkaChangelogReader
from correlator.worker.kafka.client import KafkaClients
from correlator.worker.kafka.confluent_config import client_config, log_error
from correlator.worker.ports import Headers, ProduceError, RecordRejectedError

if TYPE_CHECKING:
    from correlator.worker.kafka.confluent_consumer import ConfluentGroupConsumer

log = logging.getLogger(__name__)

#: send() waits this long at most for room in librdkafka's local queue, then fails the batch;
#: the same bound as kafka-python's `max_block_ms` in `.client`: longer than a broker
#: restart, shorter than the liveness timeout.
MAX_BLOCK_S = 30.0

#: close() waits this long for records still queued (the loop flushed the batch already; this
#: only bounds the shutdown of a worker stopping after an error), as `.client` does.
CLOSE_TIMEOUT_S = 10.0


#: Errors about one record, not the broker: reported as `RecordRejectedError` (see `ports`).
_RECORD_ERRORS = frozenset(
    {
        confluent_kafka.KafkaError.MSG_SIZE_TOO_LARGE,
        confluent_kafka.KafkaError.INVALID_MSG,
        confluent_kafka.KafkaError.INVALID_MSG_SIZE,
        confluent_kafka.KafkaError.RECORD_LIST_TOO_LARGE,
        confluent_kafka.KafkaError.INVALID_RECORD,
    }
)


class ConfluentRecordProducer:
    """`ports.Producer` on confluent_kafka.Producer (idempotent, acks=all)."""

    def __init__(
        self, config: WorkerConfig, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._mono = monotonic
        k = config.kafka
        if k.options:
            log.info(
                "kafka.options %s are kafka-python options: the confluent producer ignores them "
                "(use kafka.librdkafka_options)",
                sorted(k.options),
            )
        conf = client_config(config)
        conf.update(
            {
                # Every in-sync replica must have an output before its input is committed.
                "acks": "all",
                # Idempotence keeps records of one partition in order across retries, which
                # the changelog markers and the stage-2 de-duplication rely on. (librdkafka
                # sets retries and max.in.flight to match.) Any failed record stops the worker
                # at the next flush, so `enable.gapless.guarantee` would add nothing.
                "enable.idempotence": True,
                # The Java client's (and kafka-python's) hash: a key lands on the same
                # partition whichever client wrote it (librdkafka's default is CRC32).
                "partitioner": "murmur2_random",
                # A record not acknowledged within this long fails the next flush: the worker
                # exits and restarts from its last commit rather than wait for ever.
                "message.timeout.ms": k.delivery_timeout_ms,
                # How long the broker may take to get acks=all for one produce request before
                # answering with an error (then retried within message.timeout.ms).
                "request.timeout.ms": k.request_timeout_ms,
                # Batch outgoing records for up to linger_ms: the loop flushes at the end of
                # every batch anyway, so this only merges one batch's records into requests.
                "linger.ms": k.linger_ms,
                # Largest record accepted by send() (and largest produce request): a larger
                # one raises ProduceError at once, as kafka-python's max_request_size does.
                "message.max.bytes": k.max_request_size,
                # librdkafka's per-partition batch limit (bytes), its default: a batch of the
                # changelog goes out in a few requests; no record is ever split by it.
                "batch.size": 1_000_000,
                "compression.type": k.compression_type or "none",
                # Delivery reports for failures only: no Python callback per good record.
                "delivery.report.only.error": True,
                "on_delivery": self._on_delivery,
                "error_cb": log_error,
            }
        )
        conf.update(k.librdkafka_options)
        self._producer = confluent_kafka.Producer(conf)
        self._produce = self._producer.produce
        self._failed: list[tuple[str, str, bool]] = []

    def _on_delivery(self, err: confluent_kafka.KafkaError | None, msg: Any) -> None:
        if err is not None:
            why = f"[{msg.partition()}]: {err.str()}"
            self._failed.append((msg.topic(), why, err.code() in _RECORD_ERRORS))

    def send(
        self,
        topic: str,
        *,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
        timestamp_ms: int | None = None,
    ) -> None:
        deadline = 0.0
        while True:
            try:
                self._produce(
                    topic,
                    value,
                    key,
                    # -1: librdkafka's "unassigned", the partitioner picks by key.
                    -1 if partition is None else partition,
                    # 0: now (librdkafka's convention, like None in the port).
                    timestamp=timestamp_ms or 0,
                    headers=list(headers) if headers else None,
                )
                return
            except BufferError:
                # The local queue is full: serve delivery reports (frees space) and retry.
                now = self._mono()
                if not deadline:
                    deadline = now + MAX_BLOCK_S
                elif now > deadline:
                    raise ProduceError(
                        f"{topic}: producer queue still full after {MAX_BLOCK_S:.0f}s"
                    ) from None
                self._producer.poll(0.05)
            except confluent_kafka.KafkaException as exc:
                # Too large (MSG_SIZE_TOO_LARGE), unknown partition, fatal producer error...
                error = exc.args[0] if exc.args else exc
                if isinstance(error, confluent_kafka.KafkaError):
                    if error.code() in _RECORD_ERRORS:  # this record only: the worker goes on
                        raise RecordRejectedError([(topic, error.str())]) from exc
                    raise ProduceError(f"{topic}: {error.str()}") from exc
                raise ProduceError(f"{topic}: {exc}") from exc

    def flush(self, timeout: float) -> None:
        remaining = self._producer.flush(timeout)
        failed, self._failed = self._failed, []
        if failed and all(one for _, _, one in failed):
            raise RecordRejectedError([(topic, why) for topic, why, _ in failed])
        if failed:
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise ProduceError(f"{failed[0][0]}{failed[0][1]}{more}")
        if remaining:
            raise ProduceError(f"{remaining} record(s) not acknowledged within {timeout:.0f}s")

    def close(self) -> None:
        if self._producer.flush(CLOSE_TIMEOUT_S):
            # Still unacknowledged: drop them rather than block the exit (nothing was
            # committed for them; the restart re-does the batch).
            self._producer.purge()
            self._producer.flush(0)
        self._producer.close()


class ConfluentClients:
    """`ports.Clients` with the confluent-kafka producer and group consumer; the admin client
    and the state reader are `correlator.worker.kafka.client`'s (kafka-python)."""

    def __init__(
        self, config: WorkerConfig, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._mono = monotonic
        self._kafka = KafkaClients(config, monotonic=monotonic)

    def admin(self) -> KafkaTopicAdmin:
        return self._kafka.admin()

    def consumer(self, topics: Sequence[str]) -> ConfluentGroupConsumer:
        # Imported here: confluent-kafka's consumer is only built when asked for.
        from correlator.worker.kafka.confluent_consumer import (  # noqa: PLC0415
            ConfluentGroupConsumer,
        )

        return ConfluentGroupConsumer(self.config, topics)

    def producer(self) -> ConfluentRecordProducer:
        return ConfluentRecordProducer(self.config, monotonic=self._mono)

    def changelog_reader(self) -> KafkaChangelogReader:
        return self._kafka.changelog_reader()
