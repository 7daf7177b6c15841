"""The engines' state changelog: encoding, restore, and the commit markers.

Each engine (one per repartition partition) writes the keys its state changed in a batch
(`Correlator.take_state_changes`) to the same partition of the compacted state topic:
key = the engine's state key (`meta`, `incident/<id>`, `alert/<fp>` ...), value = orjson, or
null (a tombstone) for a deleted key. After a batch's changes the worker writes a *checkpoint*
under the key `WORKER_KEY`: the next repartition offset to apply, the newest source offset
applied per alerts partition, and the engine clock.

On restore, everything up to the last checkpoint is the committed state; records after it are
the unfinished batch of a worker that died between writing its changes and its checkpoint.
They are dropped, and the restorer writes the committed value (or a tombstone) back for each
of their keys followed by a fresh checkpoint, so that compaction, which keeps only the newest
record per key, can never make a dropped value the surviving one. Records before the
checkpoint are consumed by the worker only from `Checkpoint.offset` on, so every input record
changes the state exactly once even though Kafka delivers it at least once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from correlator.core.model import rfc3339, utc
from correlator.errors import CorrelatorError
from correlator.worker.engine import JsonValue
from correlator.worker.ports import Message

#: The worker's key in every state partition; outside the engine's key space (`meta`,
#: `incident/...`, `alert/...`), which never starts with `~`.
WORKER_KEY = "~worker"
CHECKPOINT_VERSION = 1


class StateError(CorrelatorError):
    """A state record that cannot be read (written by an incompatible version?)."""


@dataclass(slots=True)
class Checkpoint:
    """What an engine's committed state has applied."""

    offset: int = 0
    """The next repartition offset to apply; records before it are already in the state."""
    sources: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Per source partition (`topic/partition`): (offset, index in message) applied last."""
    clock: datetime | None = None
    """The engine's event-time clock when the checkpoint was written."""
    seq: int = 0
    """Counts checkpoints of this partition, for logs."""

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "v": CHECKPOINT_VERSION,
                "offset": self.offset,
                "sources": {k: list(v) for k, v in sorted(self.sources.items())},
                "clock": rfc3339(self.clock),
                "seq": self.seq,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Checkpoint:
        try:
            data = orjson.loads(raw)
            sources = {
                str(k): (int(v[0]), int(v[1])) for k, v in dict(data.get("sources", {})).items()
            }
            clock = data.get("clock")
            return cls(
                offset=int(data["offset"]),
                sources=sources,
                clock=utc(datetime.fromisoformat(clock)) if clock else None,
                seq=int(data.get("seq", 0)),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise StateError(f"unreadable checkpoint: {exc}") from exc

    def is_duplicate(self, source: str, offset: int, index: int, window: int) -> bool:
        """True when the alert (source partition, offset, index in message) was applied
        already: re-delivered by stage 1 after a crash or a rebalance. An offset more than
        `window` behind the newest applied one is a deliberate rewind, not a re-delivery."""
        last = self.sources.get(source)
        if last is None:
            return False
        return (offset, index) <= last and offset > last[0] - window

    def applied(self, source: str, offset: int, index: int) -> None:
        self.sources[source] = (offset, index)


def encode_key(key: str) -> bytes:
    return key.encode("utf-8")


def encode_value(value: JsonValue) -> bytes | None:
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


@dataclass(slots=True)
class RestoredState:
    """One state partition read back."""

    partition: int
    state: dict[str, JsonValue] = field(default_factory=dict)
    """The engine state at the last checkpoint (for `Correlator.restore`)."""
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    uncommitted: dict[str, bytes | None] = field(default_factory=dict)
    """Keys written after the last checkpoint (raw values): an unfinished batch to undo."""
    records: int = 0
    bytes: int = 0

    @property
    def empty(self) -> bool:
        return self.records == 0


class Restorer:
    """Feeds state records in offset order; `result()` gives the committed state."""

    def __init__(self, partition: int) -> None:
        self._out = RestoredState(partition)
        self._committed_raw: dict[str, bytes] = {}

    def feed(self, message: Message) -> None:
        out = self._out
        out.records += 1
        out.bytes += len(message.value or b"") + len(message.key or b"")
        if message.key is None:
            return  # not ours; nothing the worker writes lacks a key
        key = message.key.decode("utf-8", "replace")
        if key == WORKER_KEY:
            if message.value is None:
                return
            out.checkpoint = Checkpoint.from_json(message.value)
            for pending, raw in out.uncommitted.items():
                if raw is None:
                    self._committed_raw.pop(pending, None)
                else:
                    self._committed_raw[pending] = raw
            out.uncommitted.clear()
            return
        out.uncommitted[key] = message.value

    def feed_all(self, messages: Iterable[Message]) -> RestoredState:
        for message in messages:
            self.feed(message)
        return self.result()

    def result(self) -> RestoredState:
        out = self._out
        try:
            out.state = {key: orjson.loads(raw) for key, raw in self._committed_raw.items()}
        except orjson.JSONDecodeError as exc:
            raise StateError(f"state partition {out.partition}: unreadable value: {exc}") from exc
        return out

    def committed_raw(self, key: str) -> bytes | None:
        return self._committed_raw.get(key)


def repair_records(restorer: Restorer, restored: RestoredState) -> list[tuple[str, bytes | None]]:
    """The records that undo an unfinished batch: each key's committed value (or a
    tombstone), then the checkpoint again. Empty when the partition ended on a checkpoint."""
    if not restored.uncommitted:
        return []
    records: list[tuple[str, bytes | None]] = [
        (key, restorer.committed_raw(key)) for key in sorted(restored.uncommitted)
    ]
    records.append((WORKER_KEY, restored.checkpoint.to_json()))
    return records
