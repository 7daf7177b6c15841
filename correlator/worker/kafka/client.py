"""The one module that imports kafka-python: the `ports` interfaces on a
real cluster.

Notes from running against Tansu (the embedded broker of the tests and `demo --kafka`), which
the code below is written to survive, and which are harmless on Apache Kafka and Redpanda:

* ListOffsets (`end_offsets`, `seek_to_end`, `auto_offset_reset="latest"`) may report the
  start of the last record batch plus one rather than the log end. So the worker never seeks to
  the end: the input starts from the earliest offset, state is read up to the *high watermark
  of fetch responses*, and consumer lag uses the same high watermark.
* DescribeConfigs returns nothing, so topic configs are set at creation and never read back.
* A synchronous rebalance listener runs on kafka-python's IO thread and must not call blocking
  consumer methods (commit, position...). The listener here only records what changed; the
  loop commits before every poll, so nothing is ever pending when partitions are revoked.
* Tansu answers a fetch with no records at all when reading them takes longer than the fetch's
  `max_wait_ms`, and its in-memory log reads slower the more record batches it holds. With the
  worker's 10 ms a consumer that falls a few thousand records behind a log of tens of thousands
  of small batches then gets empty answers for ever, its position never moves (the soak stall
  of RELIABILITY.md). `FetchWait` lengthens the wait while fetches come back empty behind the
  high watermark and restores it once caught up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.admin import KafkaTopicAdmin
from correlator.worker.kafka.changelog import KafkaChangelogReader
from correlator.worker.kafka.fetch_wait import FetchWait
from correlator.worker.kafka.lib import (
    ConsumerRebalanceListener,
    KafkaConsumer,
    KafkaProducer,
    OffsetAndMetadata,
    TopicPartition,
    kafka_errors,
)
from correlator.worker.kafka.messages import to_message
from correlator.worker.kafka.options import client_options, only_known
from correlator.worker.ports import (
    TP,
    CommitFailedError,
    Headers,
    Message,
    ProduceError,
    RebalanceEvents,
    RecordRejectedError,
)

log = logging.getLogger(__name__)


def _tp(tp: TopicPartition) -> TP:
    return TP(tp.topic, tp.partition)


def _commit_done(offsets: Any, result: Any) -> None:
    """An asynchronous commit failed (run in a later poll): the partitions' owner re-reads
    from the previous commit, and the checkpoints make that harmless."""
    if isinstance(result, Exception):
        log.warning("asynchronous offset commit failed: %s", result)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs on kafka-python's IO thread: records the change and returns at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events = RebalanceEvents()

    def on_partitions_revoked(self, revoked: Any) -> None:
        with self._lock:
            self._events.revoked.update(_tp(tp) for tp in revoked)

    def on_partitions_lost(self, lost: Any) -> None:
        with self._lock:
            self._events.lost.update(_tp(tp) for tp in lost)

    def on_partitions_assigned(self, assigned: Any) -> None:
        with self._lock:
            self._events.assigned.update(_tp(tp) for tp in assigned)
            self._events.generations += 1

    def take(self) -> RebalanceEvents:
        with self._lock:
            events, self._events = self._events, RebalanceEvents()
        return events


class KafkaGroupConsumer:
    """`ports.Consumer` on KafkaConsumer: subscribe, poll batches, commit synchronously."""

    def __init__(self, config: WorkerConfig, topics: Sequence[str]) -> None:
        k = config.kafka
        options = client_options(config)
        options.update(
            group_id=config.group_id,
            group_instance_id=k.group_instance_id,
            # Offsets are committed by the loop after the batch's outputs are flushed; an
            # automatic commit could acknowledge records whose outputs were never written.
            enable_auto_commit=False,
            # A new group reads the input from its start: losing alerts is worse than reading
            # a backlog (and Tansu's "latest" lookup is unreliable, see module notes).
            auto_offset_reset="earliest",
            session_timeout_ms=k.session_timeout_ms,
            heartbeat_interval_ms=k.heartbeat_interval_ms,
            max_poll_interval_ms=k.max_poll_interval_ms,
            fetch_max_wait_ms=k.fetch_max_wait_ms,
            max_partition_fetch_bytes=k.max_partition_fetch_bytes,
            # Never read records of aborted transactions from upstream producers.
            isolation_level="read_committed",
            # Topics are created by the admin client with the right settings; a consumer
            # must not create the input topic with broker defaults by subscribing to it.
            allow_auto_create_topics=False,
        )
        self._consumer = KafkaConsumer(**only_known(options, KafkaConsumer.DEFAULT_CONFIG))
        self._fetch_wait = FetchWait(k.fetch_max_wait_ms)
        self._async = k.commit_async
        self._last_commit: dict[TopicPartition, OffsetAndMetadata] = {}
        self._listener = _Listener()
        self._consumer.subscribe(list(topics), listener=self._listener)

    def poll(self, timeout: float, max_records: int) -> list[Message]:
        batch = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        messages = [to_message(r) for records in batch.values() for r in records]
        self._fetch_wait.adapt(self._consumer, got_records=bool(messages))
        return messages

    @property
    def fetch_wait_ms(self) -> int:
        """The fetch `max_wait_ms` in force (see `FetchWait`)."""
        return self._fetch_wait.current

    def commit(self, offsets: Mapping[TP, int]) -> None:
        if not offsets:
            return
        payload = {
            TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(offset, "", -1)
            for tp, offset in offsets.items()
        }
        if self._async:
            self._last_commit.update(payload)  # answered in a later poll (kafka.commit_async)
            self._consumer.commit_async(payload, callback=_commit_done)
            return
        try:
            self._consumer.commit(payload)
        except (
            kafka_errors.CommitFailedError,
            kafka_errors.RebalanceInProgressError,
            kafka_errors.IllegalGenerationError,
            kafka_errors.UnknownMemberIdError,
            kafka_errors.FencedInstanceIdError,
        ) as exc:
            raise CommitFailedError(str(exc)) from exc

    def assignment(self) -> frozenset[TP]:
        return frozenset(_tp(tp) for tp in self._consumer.assignment())

    def take_rebalance_events(self) -> RebalanceEvents:
        return self._listener.take()

    def pause(self, partitions: Iterable[TP]) -> None:
        owned = self._consumer.assignment()
        tps = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        self._consumer.pause(*[tp for tp in tps if tp in owned])

    def resume(self, partitions: Iterable[TP]) -> None:
        owned = self._consumer.assignment()
        tps = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        tps = [tp for tp in tps if tp in owned]
        self._consumer.resume(*tps)
        # kafka-python 3.0.12 parks the records fetched for a partition while it is paused
        # and only gives them back when no other partition's records are in line, which may
        # never happen; meanwhile it never fetches that partition again. Dropping the parked
        # records makes it fetch them again from the position, which has not moved past them.
        fetcher = getattr(self._consumer, "_fetcher", None)
        for tp in tps:
            for parked in ("_paused_partition_records", "_paused_completed_fetches"):
                getattr(fetcher, parked, {}).pop(tp, None)

    def positions(self) -> dict[TP, tuple[int, int | None]]:
        out: dict[TP, tuple[int, int | None]] = {}
        # Read the subscription state directly: `KafkaConsumer.position` may block on a
        # network round trip, and this runs once per loop iteration.
        states = getattr(self._consumer, "_subscription", None)
        assignment = getattr(states, "assignment", {})
        for tp, state in list(assignment.items()):
            position = getattr(state, "position", None)
            if position is None:
                continue
            offset = position.offset if hasattr(position, "offset") else int(position)
            highwater = getattr(state, "highwater", None)
            out[_tp(tp)] = (int(offset), None if highwater is None else int(highwater))
        return out

    def reachable(self) -> bool:
        # Read-only: `coordinator_unknown()` would also mark the coordinator dead, which is
        # the IO path's business.
        coordinator = getattr(self._consumer, "_coordinator", None)
        client = getattr(self._consumer, "_client", None)
        node = getattr(coordinator, "coordinator_id", None)
        if node is None or client is None:
            return False
        return not client.is_disconnected(node)

    def close(self) -> None:
        if self._last_commit:
            # The asynchronous commits may still be in flight: commit the newest offsets once
            # more, synchronously, so a clean stop re-delivers nothing.
            owned = self._consumer.assignment()
            last = {tp: om for tp, om in self._last_commit.items() if tp in owned}
            try:
                if last:
                    self._consumer.commit(last)
            except kafka_errors.KafkaError as exc:
                log.warning("final commit failed (the next owner re-reads a batch): %s", exc)
        # autocommit=False: the loop has committed everything it processed already.
        self._consumer.close(autocommit=False)


class KafkaRecordProducer:
    """`ports.Producer` on KafkaProducer (idempotent, acks=all)."""

    def __init__(self, config: WorkerConfig) -> None:
        k = config.kafka
        options = client_options(config)
        options.update(
            # Every in-sync replica must have an output before its input is committed.
            acks="all",
            # Idempotence keeps records of one partition in order across retries, which the
            # changelog markers and the stage-2 de-duplication rely on.
            enable_idempotence=True,
            delivery_timeout_ms=k.delivery_timeout_ms,
            linger_ms=k.linger_ms,
            max_request_size=k.max_request_size,
            compression_type=k.compression_type,
            # 64 KiB batches: fewer, larger produce requests for the changelog at no cost in
            # latency (the loop flushes each batch explicitly).
            batch_size=65_536,
            # send() blocks this long at most for metadata or buffer space, then fails the
            # batch; longer than a broker restart, shorter than the liveness timeout.
            max_block_ms=30_000,
        )
        self._producer = KafkaProducer(**only_known(options, KafkaProducer.DEFAULT_CONFIG))
        self._futures: list[Any] = []

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
        try:
            future = self._producer.send(
                topic,
                value=value,
                key=key,
                headers=list(headers),
                partition=partition,
                timestamp_ms=timestamp_ms,
            )
        except kafka_errors.KafkaError as exc:
            raise ProduceError(f"{topic}: {exc}") from exc
        self._futures.append(future)

    def flush(self, timeout: float) -> None:
        futures, self._futures = self._futures, []
        if not futures:
            return
        try:
            self._producer.flush(timeout=timeout)
        except kafka_errors.KafkaTimeoutError as exc:
            raise ProduceError(f"flush timed out after {timeout:.0f}s") from exc
        rejected: list[tuple[str, str]] = []
        for future in futures:
            if not future.is_done:
                raise ProduceError("a record was not acknowledged in time")
            if future.failed():
                if not isinstance(future.exception, _RECORD_ERRORS):
                    raise ProduceError(str(future.exception)) from future.exception
                rejected.append((_future_topic(future), str(future.exception)))
        if rejected:  # the others were delivered: only these records are refused
            raise RecordRejectedError(rejected)

    def close(self) -> None:
        self._producer.close(timeout=10)


#: Errors about one record (not the broker, not the connection): `flush` reports them as
#: `RecordRejectedError` so the worker drops the record instead of stopping.
_RECORD_ERRORS = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidRecordError,
    kafka_errors.CorruptRecordError,
)


def _future_topic(future: Any) -> str:
    tp = getattr(getattr(future, "_produce_future", None), "topic_partition", None)
    return str(getattr(tp, "topic", "?"))


class KafkaClients:
    """`ports.Clients` for one worker on a real cluster. `monotonic` times the I/O deadlines
    (restore timeout), so a test can drive them."""

    def __init__(
        self, config: WorkerConfig, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self._mono = monotonic

    def admin(self) -> KafkaTopicAdmin:
        return KafkaTopicAdmin(self.config)

    def consumer(self, topics: Sequence[str]) -> KafkaGroupConsumer:
        return KafkaGroupConsumer(self.config, topics)

    def producer(self) -> KafkaRecordProducer:
        return KafkaRecordProducer(self.config)

    def changelog_reader(self) -> KafkaChangelogReader:
        return KafkaChangelogReader(self.config, monotonic=self._mono)
