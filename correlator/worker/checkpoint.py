"""The commit protocol: the order of writes that makes a crash at any point harmless.

Every batch, in this order:

1. produce the batch's outputs (repartition records, dead letters, incident updates) while
   processing it;
2. flush them: every output is acknowledged;
3. produce each touched engine's state changes, then its checkpoint (`changelog.Checkpoint`),
   to the engine's partition of the state topic;
4. flush those;
5. commit the input offsets (sent without waiting for the answer, `kafka.commit_async`: a lost
   commit only re-delivers records that the checkpoints already mark as applied).

A crash before 5 re-delivers the batch; the checkpoints make re-delivered records change no
state (see `changelog`), so incidents come out as they would have, at most re-published with
the same version. A crash between 3 and 4 leaves state records after the last checkpoint, which
the restore undoes. Idle ticks run steps 2 to 4 (they consume nothing, so commit nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from correlator.worker.changelog import WORKER_KEY, encode_key, encode_value
from correlator.worker.metrics import Metrics
from correlator.worker.output import Output
from correlator.worker.ports import TP, CommitFailedError, Consumer

if TYPE_CHECKING:
    from correlator.worker.partitions import EnginePartition

log = logging.getLogger("correlator.worker.loop")


@dataclass(slots=True)
class Batch:
    """What one batch produced and must commit."""

    commits: dict[TP, int] = field(default_factory=dict)
    """The next offset to read, per input partition (step 5)."""
    touched: set[int] = field(default_factory=set)
    """Repartition partitions whose engine state changed (step 3)."""
    sent: int = 0
    """Records produced in step 1; none means nothing to flush in step 2."""
    latencies: list[int] = field(default_factory=list)
    """Kafka timestamps (ms) of the source messages of the alerts in this batch."""


class Checkpointer:
    """Runs steps 2 to 5 for a batch (`finish`) or 2 to 4 for idle ticks (`save`)."""

    def __init__(
        self,
        engines: dict[int, EnginePartition],
        *,
        output: Output,
        consumer: Consumer,
        state_topic: str,
        metrics: Metrics,
        monotonic: Callable[[], float],
        wall: Callable[[], datetime],
    ) -> None:
        self._engines = engines
        self._output = output
        self._consumer = consumer
        self._state_topic = state_topic
        self._metrics = metrics
        self._mono = monotonic
        self._wall = wall

    def finish(self, batch: Batch) -> None:
        """Flush outputs, then state and checkpoints, then commit."""
        self.save(batch)
        now_ms = self._wall().timestamp() * 1000
        for ts in batch.latencies:
            self._metrics.end_to_end.observe(max(0.0, (now_ms - ts) / 1000))
        try:
            self._consumer.commit(batch.commits)
        except CommitFailedError as exc:
            # The group moved on while we worked: the partitions' new owners re-read this
            # batch from the previous commit and the checkpoints make that harmless.
            self._metrics.commit_failures.inc()
            log.warning("commit refused (rebalance in progress): %s", exc)

    def save(self, batch: Batch) -> None:
        """Steps 2 to 4: flush the outputs, then write and flush the touched engines' state."""
        if batch.sent:
            self._output.flush()
        if batch.touched:
            for p in sorted(batch.touched):
                self.write_state(self._engines[p])
            self._output.flush()

    def write_state(self, part: EnginePartition) -> None:
        """Step 3 for one engine: its state changes, then its checkpoint."""
        changes = part.engine.take_state_changes()
        for key, value in changes.items():
            self._output.send(
                self._state_topic,
                partition=part.partition,
                key=encode_key(key),
                value=encode_value(value),
            )
        checkpoint = part.checkpoint
        checkpoint.clock = part.clock.now
        checkpoint.seq += 1
        self._output.send(
            self._state_topic,
            partition=part.partition,
            key=encode_key(WORKER_KEY),
            value=checkpoint.to_json(),
        )
        self._metrics.changelog_records.inc(len(changes) + 1)
        part.account(self._mono())
        part.dirty = False


__all__ = ["Batch", "Checkpointer"]
