"""An in-memory broker behind the worker's `ports`, for unit tests and benchmarks.

Just enough Kafka: topics of partitions of records with offsets, consumer groups whose members
share partitions (range assignment, eager rebalance when a member joins or leaves), committed
offsets, and producers whose records become visible when flushed. A test can make a producer
"crash" after delivering some records of a flush, which is how the loop's crash safety is
tested without a broker.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from crc32c import crc32c

from correlator.worker.ports import (
    TP,
    Headers,
    Message,
    ProduceError,
    RebalanceEvents,
    TopicSpec,
)


class SimulatedCrash(BaseException):
    """Raised inside a flush to simulate the process dying there (BaseException, so that the
    worker's own error handling does not catch it)."""


@dataclass(slots=True)
class _Group:
    members: list[MemoryConsumer] = field(default_factory=list)
    committed: dict[TP, int] = field(default_factory=dict)
    generation: int = 0


class MemoryBroker:
    def __init__(self) -> None:
        self.topics: dict[str, list[list[Message]]] = {}
        self.configs: dict[str, dict[str, str]] = {}
        self.groups: dict[str, _Group] = {}
        self._clock = itertools.count(1_700_000_000_000, 1)

    # -- topics -------------------------------------------------------------------------------

    def create_topic(
        self, name: str, partitions: int, configs: Mapping[str, str] | None = None
    ) -> None:
        if name not in self.topics:
            self.topics[name] = [[] for _ in range(partitions)]
            self.configs[name] = dict(configs or {})
            for group in self.groups.values():
                if group.members:
                    self._rebalance(group)

    def append(
        self,
        topic: str,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        *,
        headers: Headers = (),
        timestamp_ms: int | None = None,
    ) -> Message:
        parts = self.topics[topic]
        if partition is None:
            partition = (crc32c(key) % len(parts)) if key is not None else 0
        log = parts[partition]
        message = Message(
            topic=topic,
            partition=partition,
            offset=len(log),
            key=key,
            value=value,
            headers=tuple(headers),
            timestamp_ms=timestamp_ms if timestamp_ms is not None else next(self._clock),
        )
        log.append(message)
        return message

    def records(self, topic: str) -> list[Message]:
        return [m for part in self.topics.get(topic, []) for m in part]

    # -- groups -------------------------------------------------------------------------------

    def _join(self, group_id: str, member: MemoryConsumer) -> None:
        group = self.groups.setdefault(group_id, _Group())
        group.members.append(member)
        self._rebalance(group)

    def leave(self, group_id: str, member: MemoryConsumer) -> None:
        """A member leaves (close) or is expelled (a killed process's session expires)."""
        group = self.groups.get(group_id)
        if group is not None and member in group.members:
            group.members.remove(member)
            self._rebalance(group)

    def _rebalance(self, group: _Group) -> None:
        group.generation += 1
        tps: dict[str, list[TP]] = {}
        for member in group.members:
            for topic in member.topics:
                if topic in self.topics:
                    tps[topic] = [TP(topic, p) for p in range(len(self.topics[topic]))]
        new: dict[int, set[TP]] = {id(m): set() for m in group.members}
        count = len(group.members)
        for topic_tps in tps.values():  # range assignment, topic by topic
            for i, member in enumerate(group.members):
                per, extra = divmod(len(topic_tps), count)
                start = i * per + min(i, extra)
                end = start + per + (1 if i < extra else 0)
                new[id(member)].update(topic_tps[start:end])
        for member in group.members:
            member._reassign(new[id(member)], group.generation)


class MemoryConsumer:
    def __init__(self, broker: MemoryBroker, group_id: str, topics: Sequence[str]) -> None:
        self.broker = broker
        self.group_id = group_id
        self.topics = list(topics)
        self._assignment: set[TP] = set()
        self._positions: dict[TP, int] = {}
        self._events = RebalanceEvents()
        self._generation = 0
        self.paused: set[TP] = set()
        self.fetch_limit: int | None = None
        """At most this many records per partition per poll (None: up to max_records), to
        mimic a fetcher that returns one partition's data before another's."""
        self.closed = False
        broker._join(group_id, self)

    def _reassign(self, assignment: set[TP], generation: int) -> None:
        self._events.revoked |= self._assignment
        self._events.assigned |= assignment
        self._events.generations += 1
        self._assignment = set(assignment)
        self.paused = set()
        self._generation = generation
        committed = self.broker.groups[self.group_id].committed
        self._positions = {tp: committed.get(tp, 0) for tp in assignment}

    def poll(self, timeout: float, max_records: int) -> list[Message]:
        out: list[Message] = []
        for tp in sorted(self._assignment):
            if tp in self.paused:
                continue
            log = self.broker.topics[tp.topic][tp.partition]
            position = self._positions[tp]
            room = max_records - len(out)
            if self.fetch_limit is not None:
                room = min(room, self.fetch_limit)
            take = log[position : position + room]
            out.extend(take)
            self._positions[tp] = position + len(take)
            if len(out) >= max_records:
                break
        return out

    def commit(self, offsets: Mapping[TP, int]) -> None:
        from correlator.worker.ports import CommitFailedError  # noqa: PLC0415

        group = self.broker.groups[self.group_id]
        if self._generation != group.generation or self not in group.members:
            raise CommitFailedError("generation changed")
        group.committed.update(offsets)

    def assignment(self) -> frozenset[TP]:
        return frozenset(self._assignment)

    def pause(self, partitions: Iterable[TP]) -> None:
        self.paused |= set(partitions) & self._assignment

    def resume(self, partitions: Iterable[TP]) -> None:
        self.paused -= set(partitions)

    def take_rebalance_events(self) -> RebalanceEvents:
        events, self._events = self._events, RebalanceEvents()
        return events

    def positions(self) -> dict[TP, tuple[int, int | None]]:
        return {
            tp: (pos, len(self.broker.topics[tp.topic][tp.partition]))
            for tp, pos in self._positions.items()
        }

    def reachable(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True
        self.broker.leave(self.group_id, self)


class MemoryProducer:
    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker
        self._pending: list[tuple[str, int | None, bytes | None, bytes | None, Headers]] = []
        self.crash_after: int | None = None
        """Deliver this many more records, then raise SimulatedCrash (None: never)."""
        self.max_record_bytes = 8 * 1024 * 1024
        self.delivered = 0

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
        if topic not in self.broker.topics:
            raise ProduceError(f"unknown topic {topic}")
        if len(value or b"") + len(key or b"") > self.max_record_bytes:
            raise ProduceError("record too large")
        self._pending.append((topic, partition, key, value, headers))

    def flush(self, timeout: float) -> None:
        pending, self._pending = self._pending, []
        for topic, partition, key, value, headers in pending:
            if self.crash_after is not None:
                if self.crash_after <= 0:
                    raise SimulatedCrash
                self.crash_after -= 1
            self.broker.append(topic, partition, key, value, headers=headers)
            self.delivered += 1

    def close(self) -> None:
        self._pending.clear()


class MemoryChangelogReader:
    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker

    def read_to_end(self, topic: str, partitions: Sequence[int]) -> Iterator[Message]:
        for p in partitions:
            yield from list(self.broker.topics[topic][p])

    def close(self) -> None:
        pass


class MemoryAdmin:
    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker

    def describe(self, names: Sequence[str]) -> dict[str, int]:
        return {n: len(self.broker.topics[n]) for n in names if n in self.broker.topics}

    def ensure_topics(self, specs: Sequence[TopicSpec]) -> dict[str, int]:
        for spec in specs:
            self.broker.create_topic(spec.name, spec.partitions, spec.configs)
        return {spec.name: len(self.broker.topics[spec.name]) for spec in specs}

    def close(self) -> None:
        pass


class MemoryClients:
    """`ports.Clients` on a `MemoryBroker`; remembers what it built, for tests to poke at."""

    def __init__(self, broker: MemoryBroker, group_id: str) -> None:
        self.broker = broker
        self.group_id = group_id
        self.consumers: list[MemoryConsumer] = []
        self.producers: list[MemoryProducer] = []

    def admin(self) -> MemoryAdmin:
        return MemoryAdmin(self.broker)

    def consumer(self, topics: Sequence[str]) -> MemoryConsumer:
        consumer = MemoryConsumer(self.broker, self.group_id, topics)
        self.consumers.append(consumer)
        return consumer

    def producer(self) -> MemoryProducer:
        producer = MemoryProducer(self.broker)
        self.producers.append(producer)
        return producer

    def changelog_reader(self) -> MemoryChangelogReader:
        return MemoryChangelogReader(self.broker)
