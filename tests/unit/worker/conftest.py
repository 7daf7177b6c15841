"""The worker loop on the in-memory broker: a harness that runs workers step by step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from correlator.core.model import IncidentRecord
from correlator.worker.config import PartitionSettings, WorkerConfig
from correlator.worker.loop import Worker
from correlator.worker.metrics import Metrics
from correlator.worker.ports import Message
from tests.support.memory_broker import MemoryBroker, MemoryClients, MemoryConsumer
from tests.support.scenario import TEST_MAX_MESSAGE_BYTES, latest, stamped, write_org


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Harness:
    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        self.broker = MemoryBroker()
        self.tmp_path = tmp_path
        self.topology_path = write_org(tmp_path)
        options: dict[str, Any] = {
            "group_id": "g",
            "topology": str(self.topology_path),
            # Two alerts partitions: the worker must merge them back into time order.
            "partitions": PartitionSettings(alerts=2, repartition=3, incidents=2, dlq=1),
            "max_message_bytes": TEST_MAX_MESSAGE_BYTES,
            "tick_interval": timedelta(seconds=1),
        }
        options.update(overrides)
        self.config = WorkerConfig(**options)
        self.mono = FakeMonotonic()
        self.workers: list[Worker] = []
        self._produced = 0
        self._last_ts = 0

    def worker(self, **kwargs: Any) -> Worker:
        clients = MemoryClients(self.broker, self.config.group_id)
        worker = Worker(
            self.config,
            clients,
            metrics=kwargs.pop("metrics", None) or Metrics(),
            monotonic=self.mono,
            **kwargs,
        )
        worker.start()
        self.workers.append(worker)
        return worker

    def consumer_of(self, worker: Worker) -> MemoryConsumer:
        consumer = worker.consumer
        assert isinstance(consumer, MemoryConsumer)
        return consumer

    def produce(self, lines: Sequence[bytes]) -> None:
        self.broker.create_topic(self.config.alerts_topic, self.config.partitions.alerts)
        partitions = len(self.broker.topics[self.config.alerts_topic])
        for raw, stamp in stamped(lines):
            # Strictly increasing, as a producer's clock would make them: ties across
            # partitions would leave their order to chance.
            ts = self._last_ts = max(stamp, self._last_ts + 1)
            # Round-robin over the alerts partitions, as keyless producers spread messages.
            self.broker.append(
                self.config.alerts_topic,
                self._produced % partitions,
                None,
                raw,
                timestamp_ms=ts,
            )
            self._produced += 1

    def kill(self, worker: Worker) -> None:
        """The process dies: nothing more is flushed or committed; the group expels it."""
        self.broker.leave(self.config.group_id, self.consumer_of(worker))
        self.workers.remove(worker)

    def idle(self, workers: Iterable[Worker] | None = None) -> bool:
        for worker in workers if workers is not None else self.workers:
            consumer = self.consumer_of(worker)
            if consumer.closed:
                continue
            for position, end in consumer.positions().values():
                if end is not None and position < end:
                    return False
        return True

    def run(self, workers: Sequence[Worker] | None = None, max_rounds: int = 500) -> None:
        """Step the workers until every assigned partition is read to its end."""
        active = list(workers if workers is not None else self.workers)
        for _ in range(max_rounds):
            for worker in active:
                worker.run_once()
            if self.idle(active):
                for worker in active:  # one more round: commit what the last poll read
                    worker.run_once()
                return
        raise AssertionError("workers did not catch up")

    def drain(self, workers: Sequence[Worker] | None = None) -> None:
        """Let two hours of idle time pass: hold-downs expire, as replay's drain does."""
        self.mono.advance(7200)
        self.run(workers)

    def records(self, topic: str) -> list[Message]:
        return self.broker.records(topic)

    def incidents(self) -> list[IncidentRecord]:
        return [
            IncidentRecord.model_validate_json(m.value)
            for m in self.records(self.config.incidents_topic)
            if m.value is not None
        ]

    def final(self) -> dict[str, IncidentRecord]:
        return latest(self.incidents())


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)
