"""Following the consumer group: drop the engines of partitions given up, and restore the
engines of partitions assigned from their state partition (see `changelog`).

A restore reads the state partition to its end, rebuilds the engine from the committed keys,
writes back the records that undo an unfinished batch, and resumes the partition at its
checkpoint. Until every assigned partition is restored the worker reports not ready.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from correlator.core.settings import EngineSettings
from correlator.worker.changelog import Restorer, encode_key, repair_records
from correlator.worker.engine import EngineFactory
from correlator.worker.errors import FatalError
from correlator.worker.eventtime import EventClock
from correlator.worker.http import Health
from correlator.worker.input import InputBuffer
from correlator.worker.metrics import Metrics
from correlator.worker.output import Output
from correlator.worker.partitions import EnginePartition
from correlator.worker.ports import TP, Clients, Consumer
from correlator.worker.topology_watch import TopologyWatch

log = logging.getLogger("correlator.worker.loop")

#: Restored records between two liveness heartbeats: a large restore must not look hung.
RESTORE_BEAT_EVERY = 10_000


class Recovery:
    def __init__(
        self,
        engines: dict[int, EnginePartition],
        *,
        clients: Clients,
        output: Output,
        buffer: InputBuffer,
        topology: TopologyWatch,
        engine_factory: EngineFactory,
        settings: EngineSettings,
        repartition_topic: str,
        state_topic: str,
        idle_clock_rate: float,
        health: Health,
        metrics: Metrics,
        monotonic: Callable[[], float],
    ) -> None:
        self._engines = engines
        self._clients = clients
        self._output = output
        self._buffer = buffer
        self._topology = topology
        self._engine_factory = engine_factory
        self._settings = settings
        self._repartition_topic = repartition_topic
        self._state_topic = state_topic
        self._idle_clock_rate = idle_clock_rate
        self._health = health
        self._metrics = metrics
        self._mono = monotonic
        self.assignment: frozenset[TP] = frozenset()
        self.restored: list[int] = []
        """The partitions restored by the last `follow` (empty when none were)."""

    def follow(self, consumer: Consumer) -> None:
        """Follow the group: drop engines of partitions given up, restore new ones."""
        events = consumer.take_rebalance_events()
        if events:
            self._metrics.rebalances.inc(events.generations)
            if events.generations:
                self._health.joined = True
            for tp in events.revoked | events.lost:
                if tp.topic == self._repartition_topic and tp.partition in self._engines:
                    del self._engines[tp.partition]
                    log.info("partition %d revoked: engine dropped", tp.partition)
            log.info(
                "rebalance: revoked %d, lost %d, assigned %s",
                len(events.revoked),
                len(events.lost),
                sorted((tp.topic, tp.partition) for tp in events.assigned),
            )
        self.assignment = consumer.assignment()
        self._buffer.follow(
            self.assignment,
            events.revoked | events.lost,
            new_generation=bool(events.generations),
        )
        mine = {tp.partition for tp in self.assignment if tp.topic == self._repartition_topic}
        for gone in set(self._engines) - mine:
            del self._engines[gone]
        missing = mine - set(self._engines)
        self.restored = sorted(missing)
        if missing:
            self.restore(self.restored)
        self._health.assigned = len(self.assignment)

    def restore(self, partitions: list[int]) -> None:
        self._health.restoring = frozenset(partitions)
        self._metrics.ready.set(0)
        started = self._mono()
        restorers = {p: Restorer(p) for p in partitions}
        reader = self._clients.changelog_reader()
        records = 0
        try:
            for message in reader.read_to_end(self._state_topic, partitions):
                restorers[message.partition].feed(message)
                records += 1
                if records % RESTORE_BEAT_EVERY == 0:
                    self._health.beat()
        except Exception as exc:
            raise FatalError(f"cannot restore state partitions {partitions}: {exc}") from exc
        finally:
            reader.close()
        repaired = 0
        for p, restorer in restorers.items():
            repaired += self._rebuild(p, restorer)
        if repaired:
            self._output.flush()
        elapsed = self._mono() - started
        self._metrics.restore_duration.observe(elapsed)
        self._metrics.restored_records.inc(records)
        self._health.restoring = frozenset()
        log.info("restored %d partitions in %.3fs", len(partitions), elapsed)

    def _rebuild(self, p: int, restorer: Restorer) -> int:
        """One partition's engine from what was read back; returns the repair records sent."""
        try:
            restored = restorer.result()
        except Exception as exc:
            raise FatalError(str(exc)) from exc
        engine = self._engine_factory(self._topology.current, self._settings)
        if restored.state:
            engine.restore(restored.state)
        engine.take_state_changes()  # what was just read back needs no writing
        repaired = 0
        for key, value in repair_records(restorer, restored):
            self._output.send(self._state_topic, partition=p, key=encode_key(key), value=value)
            repaired += 1
        checkpoint = restored.checkpoint
        now = self._mono()
        part = EnginePartition(
            partition=p,
            engine=engine,
            checkpoint=checkpoint,
            clock=EventClock(checkpoint.clock, now, self._idle_clock_rate),
            last_tick=now,
        )
        self._engines[p] = part
        part.stats = engine.stats()
        log.info(
            "partition %d restored: %d records, %d keys, resume at offset %d%s",
            p,
            restored.records,
            len(restored.state),
            checkpoint.offset,
            f", {len(restored.uncommitted)} unfinished writes undone"
            if restored.uncommitted
            else "",
        )
        return repaired


__all__ = ["RESTORE_BEAT_EVERY", "Recovery"]
