"""One engine per repartition partition, and what the worker does with it: stage 2 (ingest
the alerts of a repartition record at their event time) and idle ticks.

`correlator.worker.recovery` creates and drops the partitions as the group assigns them;
`correlator.worker.checkpoint` writes their state after every batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from correlator.core import EngineStats, IncidentUpdate
from correlator.core.model import Alert, utc
from correlator.worker.changelog import Checkpoint
from correlator.worker.checkpoint import Batch, Checkpointer
from correlator.worker.engine import Engine
from correlator.worker.eventtime import EventClock
from correlator.worker.metrics import Metrics
from correlator.worker.output import Output
from correlator.worker.ports import Message
from correlator.worker.publish import Publisher
from correlator.worker.repartition import H_OFFSET, H_SOURCE, H_TIMESTAMP, decode_record

log = logging.getLogger("correlator.worker.loop")

#: Seconds between refreshes of an engine's gauges while it is busy (see `account`).
STATS_INTERVAL = 1.0


@dataclass(slots=True)
class EnginePartition:
    """One repartition partition's engine, its checkpoint and its event clock."""

    partition: int
    engine: Engine
    checkpoint: Checkpoint
    clock: EventClock
    last_tick: float
    dirty: bool = False
    stats: EngineStats | None = None
    stats_at: float = float("-inf")
    stats_stale: bool = False

    def account(self, mono: float, *, force: bool = False) -> None:
        """Refresh the engine's statistics for the gauges, at most every STATS_INTERVAL:
        `stats()` walks every alert and incident of the engine, and doing that after every
        batch cost more than the batch itself once thousands of incidents were open. Idle
        ticks catch up, so the gauges settle within a tick once traffic stops."""
        if force or mono - self.stats_at >= STATS_INTERVAL:
            self.stats = self.engine.stats()
            self.stats_at = mono
            self.stats_stale = False
        else:
            self.stats_stale = True


@dataclass(slots=True)
class _Pending:
    """One engine's share of a poll batch: the records admitted and their timed alerts."""

    part: EnginePartition
    messages: list[Message] = field(default_factory=list)
    timed: list[tuple[Alert, datetime]] = field(default_factory=list)
    per_message: list[list[tuple[Alert, datetime]]] = field(default_factory=list)


class Correlate:
    """Stage 2 and idle ticks over the partitions this worker owns (`engines`, shared with
    the loop and kept up to date by recovery)."""

    def __init__(
        self,
        engines: dict[int, EnginePartition],
        *,
        output: Output,
        publisher: Publisher,
        checkpointer: Checkpointer,
        metrics: Metrics,
        dedup_window: int,
        tick_interval: float,
        per_batch: bool = False,
        monotonic: Callable[[], float],
        wall: Callable[[], datetime],
    ) -> None:
        self._engines = engines
        self._output = output
        self._publisher = publisher
        self._checkpointer = checkpointer
        self._metrics = metrics
        self._dedup_window = dedup_window
        self._tick_interval = tick_interval
        self._per_batch = per_batch
        self._mono = monotonic
        self._wall = wall

    def ingest(self, message: Message, batch: Batch) -> None:
        """Apply one repartition record, unless the partition's checkpoint shows it was."""
        self.ingest_batch([message], batch)

    def ingest_batch(self, messages: Sequence[Message], batch: Batch) -> None:
        """Apply a poll batch of repartition records: each record is checked against its
        partition's checkpoint first (duplicates dropped one by one), then each engine ingests
        its new alerts: one `ingest_many` per record (`ingest_per: message`, what `replay`
        does, so incidents equal replay's field for field), or one per engine for the whole
        batch (`ingest_per: batch`: the engine's fixed cost per call, re-assessing and
        rendering every touched incident, is paid once per batch and an incident touched by
        many records is published once; same alerts, same order, same engine times)."""
        pending: dict[int, _Pending] = {}
        for message in messages:
            part = self._engines.get(message.partition)
            if part is None:  # pragma: no cover - recovery restores every assigned partition
                log.error("no engine for partition %d; record skipped", message.partition)
                continue
            alerts = self._admit(part, message, batch)
            if alerts is None:
                continue
            group = pending.get(part.partition)
            if group is None:
                group = pending[part.partition] = _Pending(part)
            timed = self._timed(part, alerts)
            group.messages.append(message)
            group.per_message.append(timed)
            group.timed.extend(timed)
        for group in pending.values():
            if self._per_batch:
                self._ingest_group(group, group.messages, group.timed, batch)
                continue
            for message, timed in zip(group.messages, group.per_message, strict=True):
                self._ingest_group(group, [message], timed, batch)

    def _admit(self, part: EnginePartition, message: Message, batch: Batch) -> list[Alert] | None:
        """The record's alerts, or None for a duplicate or an unreadable record. Advances the
        checkpoint past the record either way (the batch's state goes out with it)."""
        checkpoint = part.checkpoint
        if message.offset < checkpoint.offset:
            self._metrics.duplicates.inc()  # applied before a crash; in the restored state
            return None
        checkpoint.offset = message.offset + 1
        part.dirty = True
        batch.touched.add(part.partition)
        try:
            alerts = decode_record(message.value)
        except (ValueError, ValidationError) as exc:
            self._output.dead_letter(message, "bad_internal_record", f"repartition record: {exc}")
            batch.sent += 1
            return None
        source_raw = message.header(H_SOURCE)
        source = source_raw.decode() if source_raw else None
        src_offset = int(message.header(H_OFFSET) or b"-1")
        if source and checkpoint.is_duplicate(source, src_offset, 0, self._dedup_window):
            self._metrics.duplicates.inc()  # stage 1 re-sent it after a crash or rebalance
            return None
        if source:
            # Marked now, not after the engine call: a second copy of this source message in
            # the same batch (stage 1 re-sent it) must be recognised as a duplicate.
            checkpoint.applied(source, src_offset, 0)
        timestamp = message.header(H_TIMESTAMP)
        if timestamp and timestamp.isdigit() and int(timestamp) > 0:
            batch.latencies.append(int(timestamp))
        return alerts

    def _ingest_group(
        self,
        group: _Pending,
        messages: Sequence[Message],
        timed: list[tuple[Alert, datetime]],
        batch: Batch,
    ) -> None:
        part = group.part
        try:
            updates: Sequence[IncidentUpdate] = part.engine.ingest_many(timed)
        except Exception as exc:
            # Which record broke it is unknown: every record of the call is dead-lettered
            # (and the engine keeps what it applied before the error, as with one record).
            log.exception(
                "engine failed on %d records of partition %d", len(messages), part.partition
            )
            self._metrics.engine_errors.inc()
            for message in messages:
                self._output.dead_letter(message, "engine_error", f"{type(exc).__name__}: {exc}")
                batch.sent += 1
            updates = ()
        self._publisher.publish(updates, batch)

    def _timed(
        self, part: EnginePartition, alerts: Iterable[Alert]
    ) -> list[tuple[Alert, datetime]]:
        """Each alert with the engine time to ingest it at; observes how old the events are."""
        mono = self._mono()
        wall = self._wall()
        timed: list[tuple[Alert, datetime]] = []
        for alert in alerts:
            timed.append((alert, part.clock.on_event(alert.event_time, mono)))
            age = (wall - utc(alert.event_time)).total_seconds()
            self._metrics.event_age.observe(max(0.0, age))
        return timed

    def tick_idle(self) -> None:
        """Tick the engines that saw no event for a tick interval, then save what changed."""
        interval = self._tick_interval
        mono = self._mono()
        batch = Batch()
        for part in self._engines.values():
            if part.stats_stale and part.clock.idle_for(mono) >= interval:
                part.account(mono, force=True)
            if part.clock.idle_for(mono) < interval or mono - part.last_tick < interval:
                continue
            part.last_tick = mono
            now = part.clock.idle_now(mono)
            if now is None:
                continue
            self._metrics.ticks.inc()
            updates = part.engine.tick(now)
            self._publisher.publish(updates, batch)
            if updates:
                batch.touched.add(part.partition)
        self._checkpointer.save(batch)


__all__ = ["STATS_INTERVAL", "Correlate", "EnginePartition"]
