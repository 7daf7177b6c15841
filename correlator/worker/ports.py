"""The small interfaces the worker sees instead of a Kafka client.

`correlator.worker.kafka.client` implements them with kafka-python against a real broker (and
`correlator.worker.kafka.confluent` the producer with confluent-kafka, when `client: confluent`);
`tests.support.memory_broker` implements them in memory for unit tests and benchmarks. Nothing
else in the package imports a Kafka library, so the loop is testable in microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from correlator.errors import CorrelatorError

Headers = tuple[tuple[str, bytes], ...]


class TP(NamedTuple):
    """A topic partition."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Message:
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int = 0
    """The record's Kafka timestamp (producer create time, or broker append time)."""

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic the worker needs; created when missing."""

    name: str
    partitions: int
    replication_factor: int = -1
    """-1: the broker's default (`default.replication.factor`)."""
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RebalanceEvents:
    """What the group coordinator changed since the last `take_rebalance_events` call."""

    revoked: set[TP] = field(default_factory=set)
    """Partitions given up in order (we may still have committed for them)."""
    lost: set[TP] = field(default_factory=set)
    """Partitions taken away without a chance to commit (session expired)."""
    assigned: set[TP] = field(default_factory=set)
    generations: int = 0
    """How many assignments arrived; 0 means no rebalance happened."""

    def __bool__(self) -> bool:
        return bool(self.generations or self.revoked or self.lost or self.assigned)


class CommitFailedError(CorrelatorError):
    """Offsets could not be committed because the group moved on (a rebalance happened while
    the batch was processed). Its outputs were flushed; the new owner will process the batch
    again and the changelog markers make that harmless."""


class ProduceError(CorrelatorError):
    """A record could not be delivered (broker gone for longer than the delivery timeout,
    record too large, authorisation...). Nothing of the batch is committed."""


class RecordRejectedError(ProduceError):
    """Only some records were refused, each for something of its own (too large, invalid):
    the broker took the others, and the worker carries on (`worker.output`). `rejected` holds
    (topic, why) per refused record."""

    def __init__(self, rejected: Sequence[tuple[str, str]]) -> None:
        self.rejected = tuple(rejected)
        first = f"{rejected[0][0]}: {rejected[0][1]}" if rejected else "records refused"
        more = f" (and {len(rejected) - 1} more)" if len(rejected) > 1 else ""
        super().__init__(first + more)


class Consumer(Protocol):
    """A group member subscribed to the worker's input topics. Used from one thread only."""

    def poll(self, timeout: float, max_records: int) -> list[Message]:
        """Records from the assigned partitions, in offset order per partition; runs group
        membership (joins, rebalances) as a side effect."""
        ...

    def commit(self, offsets: Mapping[TP, int]) -> None:
        """Synchronously commit `next offset to read` per partition; raises CommitFailedError."""
        ...

    def assignment(self) -> frozenset[TP]: ...

    def pause(self, partitions: Iterable[TP]) -> None:
        """Stop fetching these partitions (their buffered records wait in the worker)."""
        ...

    def resume(self, partitions: Iterable[TP]) -> None: ...

    def take_rebalance_events(self) -> RebalanceEvents: ...

    def positions(self) -> dict[TP, tuple[int, int | None]]:
        """(position, log end offset or None when unknown) per assigned partition, without
        blocking: for the lag metric."""
        ...

    def reachable(self) -> bool:
        """Whether the group coordinator is known and connected right now (no I/O): the
        worker's view of "the broker is up", for /readyz and `correlator_broker_up`."""
        ...

    def close(self) -> None: ...


class Producer(Protocol):
    """Sends records; `flush` blocks until every record sent so far is acknowledged."""

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
        """Queue one record (`timestamp_ms` None: now). Raises ProduceError at once for a
        record that can never be delivered (too large); delivery failures surface in `flush`."""
        ...

    def flush(self, timeout: float) -> None:
        """Wait for every queued record; raises ProduceError if any could not be delivered."""
        ...

    def close(self) -> None: ...


class ChangelogReader(Protocol):
    """Reads partitions of the state topic from their start to their current end."""

    def read_to_end(self, topic: str, partitions: Sequence[int]) -> Iterator[Message]:
        """Every record of the partitions, in offset order per partition, up to the end offset
        the broker reported when reading began."""
        ...

    def close(self) -> None: ...


class Admin(Protocol):
    def describe(self, names: Sequence[str]) -> dict[str, int]:
        """Partition counts of the topics that exist."""
        ...

    def ensure_topics(self, specs: Sequence[TopicSpec]) -> dict[str, int]:
        """Create the missing topics; return the actual partition count of every topic."""
        ...

    def close(self) -> None: ...


class Clients(Protocol):
    """Builds the clients for one worker (a real cluster, or memory)."""

    def admin(self) -> Admin: ...

    def consumer(self, topics: Sequence[str]) -> Consumer: ...

    def producer(self) -> Producer: ...

    def changelog_reader(self) -> ChangelogReader: ...
