"""`client: confluent`: the `correlator.worker.ports` Consumer on confluent-kafka (librdkafka).

librdkafka fetches, decompresses and parses records on its own threads; the Python work left
per record is building the `ports.Message`. Semantics kept from
`correlator.worker.kafka.client.KafkaGroupConsumer`: offsets committed only by the loop
(after the batch's outputs and checkpoints are acknowledged), a new group reads the input
from its start, read_committed, no topic auto-creation, rebalance callbacks that only record
what changed (they run inside `poll`, on the loop's thread).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Any

import confluent_kafka
import orjson

from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.confluent_config import client_config, log_error
from correlator.worker.kafka.fetch_wait import FetchWait
from correlator.worker.ports import TP, CommitFailedError, Message, RebalanceEvents

log = logging.getLogger(__name__)

#: librdkafka errors that mean "the group moved on": the commit is refused, nothing is lost.
_GROUP_MOVED = frozenset(
    {
        "REBALANCE_IN_PROGRESS",
        "ILLEGAL_GENERATION",
        "UNKNOWN_MEMBER_ID",
        "FENCED_INSTANCE_ID",
        "_ASSIGNMENT_LOST",
        "_STATE",
    }
)


def _commit_done(err: confluent_kafka.KafkaError | None, partitions: Any) -> None:
    """librdkafka's offset-commit callback (served by poll): only failures are worth a word."""
    if err is not None and err.code() != confluent_kafka.KafkaError._NO_OFFSET:
        log.warning("asynchronous offset commit failed: %s", err.str())


class ConfluentGroupConsumer:
    """`ports.Consumer` on confluent_kafka.Consumer: librdkafka fetches and parses on its own
    threads; the rebalance callbacks run inside `poll` on the loop's thread and only record
    what changed, as the kafka-python listener does."""

    def __init__(self, config: WorkerConfig, topics: Sequence[str]) -> None:
        k = config.kafka
        conf = client_config(config)
        conf.update(
            {
                "group.id": config.group_id,
                # Offsets are committed by the loop after the batch's outputs are flushed.
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                # A new group reads the input from its start (see `.client`).
                "auto.offset.reset": "earliest",
                "session.timeout.ms": k.session_timeout_ms,
                "heartbeat.interval.ms": k.heartbeat_interval_ms,
                "max.poll.interval.ms": k.max_poll_interval_ms,
                "fetch.wait.max.ms": k.fetch_max_wait_ms,
                "max.partition.fetch.bytes": k.max_partition_fetch_bytes,
                "isolation.level": "read_committed",
                "allow.auto.create.topics": False,
                "enable.partition.eof": False,
                "on_commit": _commit_done,
                "error_cb": log_error,
                # librdkafka's statistics are the one place it says whether a broker connection
                # is up; every 5 s is cheap (one small JSON parse) and fine for /readyz.
                "statistics.interval.ms": 5_000,
                "stats_cb": self._stats,
            }
        )
        if k.group_instance_id:
            conf["group.instance.id"] = k.group_instance_id
        conf.update(k.librdkafka_options)
        self._consumer = confluent_kafka.Consumer(conf)
        self._async = k.commit_async
        self._events = RebalanceEvents()
        self._up = True  # until the first statistics say otherwise
        # librdkafka fixes its fetch wait at construction, so on Tansu's empty-fetch stall
        # (fetch_wait.py) this consumer can only say so: `FetchWait` decides when a wait
        # kafka-python would lengthen is too short, and each such step is logged.
        self._fetch_wait = FetchWait(k.fetch_max_wait_ms)
        self._paused: set[TP] = set()
        self._behind = False  # per the last statistics
        self._consumer.subscribe(
            list(topics), on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost
        )

    def _assigned(self, consumer: Any, partitions: list[Any]) -> None:
        self._events.assigned.update(TP(tp.topic, tp.partition) for tp in partitions)
        self._events.generations += 1
        self._paused.clear()  # a new assignment starts unpaused, as the loop's input buffer assumes

    def _revoked(self, consumer: Any, partitions: list[Any]) -> None:
        self._events.revoked.update(TP(tp.topic, tp.partition) for tp in partitions)

    def _lost(self, consumer: Any, partitions: list[Any]) -> None:
        self._events.lost.update(TP(tp.topic, tp.partition) for tp in partitions)

    def poll(self, timeout: float, max_records: int) -> list[Message]:
        out: list[Message] = []
        # `consume(n, timeout)` waits until it has n records or the timeout passes; the port
        # returns as soon as there is anything (as kafka-python's poll does). So: take what
        # is there; if nothing, wait for one record, then take what came with it.
        consume = self._consumer.consume
        got = consume(max_records, 0)
        if not got:
            got = consume(1, timeout)
            if got and max_records > 1:
                got.extend(consume(max_records - 1, 0))
        if got:
            self._fetch_wait.observe(got_records=True, behind=True)
        else:
            self._watch_stall()
        for m in got:
            err = m.error()
            if err is not None:
                if err.fatal():
                    raise confluent_kafka.KafkaException(err)
                log.warning("kafka consumer: %s", err.str())
                continue
            topic, partition, offset = m.topic(), m.partition(), m.offset()
            if topic is None or partition is None or offset is None:
                continue  # only error events lack them, and those were handled above
            _, ts = m.timestamp()
            raw = m.headers() or ()
            pairs = raw.items() if isinstance(raw, dict) else raw
            out.append(
                Message(
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    key=m.key(),
                    value=m.value(),
                    headers=tuple(
                        (name, value.encode() if isinstance(value, str) else value or b"")
                        for name, value in pairs
                    ),
                    timestamp_ms=ts if ts is not None and ts >= 0 else 0,
                )
            )
        return out

    def _watch_stall(self) -> None:
        """After a poll that returned nothing: warn when fetches keep coming back empty while
        an unpaused partition is behind its high watermark (see `FetchWait`)."""
        wait = self._fetch_wait
        before = wait.current
        after = wait.observe(got_records=False, behind=self._behind)
        # Once per stall: the first step up from the configured wait (the later ones, up to
        # FetchWait's ceiling, would repeat the same advice within a second or two).
        if before == wait.base < after:
            log.warning(
                "kafka consumer: fetches return nothing while behind the high watermark; "
                "librdkafka cannot lengthen its fetch wait (%d ms) while running: on Tansu, "
                "raise kafka.fetch_max_wait_ms (a broker that answers slower than the wait "
                "sends no records at all)",
                self._fetch_wait.base,
            )

    def commit(self, offsets: Mapping[TP, int]) -> None:
        if not offsets:
            return
        tps = [
            confluent_kafka.TopicPartition(tp.topic, tp.partition, o) for tp, o in offsets.items()
        ]
        try:
            if self._async:
                self._consumer.commit(offsets=tps, asynchronous=True)
            else:
                self._consumer.commit(offsets=tps, asynchronous=False)
        except confluent_kafka.KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, confluent_kafka.KafkaError) and error.name() in _GROUP_MOVED:
                raise CommitFailedError(error.str()) from exc
            raise

    def assignment(self) -> frozenset[TP]:
        return frozenset(TP(tp.topic, tp.partition) for tp in self._consumer.assignment())

    def take_rebalance_events(self) -> RebalanceEvents:
        events, self._events = self._events, RebalanceEvents()
        return events

    def _owned(self, partitions: Iterable[TP]) -> list[Any]:
        owned = self.assignment()
        return [
            confluent_kafka.TopicPartition(tp.topic, tp.partition)
            for tp in partitions
            if tp in owned
        ]

    def pause(self, partitions: Iterable[TP]) -> None:
        tps = self._owned(partitions)
        if tps:
            self._consumer.pause(tps)
            self._paused.update(TP(tp.topic, tp.partition) for tp in tps)

    def resume(self, partitions: Iterable[TP]) -> None:
        tps = self._owned(partitions)
        if tps:
            self._consumer.resume(tps)
            self._paused.difference_update(TP(tp.topic, tp.partition) for tp in tps)

    def positions(self) -> dict[TP, tuple[int, int | None]]:
        out: dict[TP, tuple[int, int | None]] = {}
        # Local state only: `position` is the next offset to hand out, the cached watermark
        # is the high watermark of the last fetch response (no network round trip).
        for tp in self._consumer.position(self._consumer.assignment()):
            if tp.offset < 0:
                continue  # nothing fetched yet
            _, high = self._consumer.get_watermark_offsets(tp, cached=True)
            out[TP(tp.topic, tp.partition)] = (tp.offset, high if high >= 0 else None)
        return out

    def _stats(self, raw: str) -> None:
        try:
            stats = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        brokers = stats.get("brokers", {})
        # Bootstrap entries have node id -1; only real brokers count.
        self._up = any(b.get("state") == "UP" for b in brokers.values() if b.get("nodeid", -1) >= 0)
        self._behind = fetching_behind(stats, self._paused)

    def reachable(self) -> bool:
        """A broker connection was up at the last statistics (served by poll, no I/O here)."""
        return self._up

    def close(self) -> None:
        # Leaves the group; librdkafka waits for the outstanding asynchronous commits first.
        self._consumer.close()


def fetching_behind(stats: Mapping[str, Any], paused: Set[TP]) -> bool:
    """Whether librdkafka's statistics show an unpaused partition whose fetch position is
    below its last stable offset (the high watermark under read_committed). The position of
    `ConfluentGroupConsumer.positions` is unknown until a first record arrives, so a consumer
    stalled from its start would look caught up there; the fetch position is known as soon as
    the starting offset is."""
    for topic, entry in stats.get("topics", {}).items():
        for number, part in entry.get("partitions", {}).items():
            partition = int(number)
            if partition < 0 or TP(topic, partition) in paused:
                continue  # -1 is librdkafka's internal unassigned-partition entry
            fetch, end = part.get("next_offset", -1), part.get("ls_offset", -1)
            if part.get("fetch_state") == "active" and 0 <= fetch < end:
                return True
    return False


__all__ = ["ConfluentGroupConsumer", "fetching_behind"]
