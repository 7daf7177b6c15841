"""Stage 2 over a poll batch: duplicates filtered per record, then `ingest_many` once per record
(`ingest_per: message`, the default, equal to replay) or once per engine (`ingest_per: batch`);
and the heap frozen after a restore (`gc_freeze_interval`)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from correlator.core import EngineStats, IncidentUpdate
from correlator.core.model import Alert
from correlator.core.settings import EngineSettings
from correlator.worker.engine import Engine, JsonValue, StateChanges, default_engine_factory
from correlator.worker.ports import Message
from correlator.worker.repartition import source_headers
from tests.support.memory_broker import MemoryProducer, SimulatedCrash
from tests.support.scenario import assert_same_incidents, expected_final, outages
from tests.unit.worker.conftest import Harness
from topology import Topology


class CountingEngine:
    """The real engine, counting `ingest_many` calls and the alerts each one carried."""

    def __init__(self, inner: Engine, calls: list[tuple[int, int]], step: list[int]) -> None:
        self._inner = inner
        self._calls = calls
        self._step = step

    def ingest_many(self, alerts: Iterable[tuple[Alert, datetime]]) -> Sequence[IncidentUpdate]:
        self._calls.append((id(self), self._step[0]))
        return self._inner.ingest_many(alerts)

    def tick(self, now: datetime) -> Sequence[IncidentUpdate]:
        return self._inner.tick(now)

    def restore(self, state: Mapping[str, JsonValue]) -> None:
        self._inner.restore(state)

    def take_state_changes(self) -> StateChanges:
        return self._inner.take_state_changes()

    def replace_topology(self, topology: Topology) -> None:
        self._inner.replace_topology(topology)

    def stats(self) -> EngineStats:
        return self._inner.stats()


@pytest.fixture
def frozen_heap_restored() -> Iterator[None]:
    """The worker freezes the heap; give the other tests an unfrozen one back."""
    try:
        yield
    finally:
        gc.unfreeze()


def _counting(
    calls: list[tuple[int, int]], step: list[int] | None = None
) -> Callable[[Topology, EngineSettings], Engine]:
    """An engine factory whose engines log (engine, `step[0]`) for every `ingest_many`."""
    real = default_engine_factory()
    at = step if step is not None else [0]

    def build(topology: Topology, settings: EngineSettings) -> Engine:
        return CountingEngine(real(topology, settings), calls, at)

    return build


def _run_counting_steps(harness: Harness, step: list[int]) -> None:
    """`harness.run()`, numbering the iterations in `step[0]`."""
    for _ in range(500):
        step[0] += 1
        for worker in harness.workers:
            worker.run_once()
        if harness.idle():
            step[0] += 1
            for worker in harness.workers:
                worker.run_once()
            return
    raise AssertionError("workers did not catch up")


def _repartition_records(harness: Harness) -> list[Message]:
    return harness.records(harness.config.repartition_topic_name)


@pytest.mark.parametrize("ingest_per", ["message", "batch"])
def test_ingest_many_calls_per_poll(tmp_path: Path, ingest_per: str) -> None:
    harness = Harness(tmp_path, ingest_per=ingest_per, max_poll_records=10_000)
    calls: list[tuple[int, int]] = []
    step = [0]
    harness.worker(engine_factory=_counting(calls, step))
    harness.produce(outages(seed=3, faults=10))
    _run_counting_steps(harness, step)
    records = len(_repartition_records(harness))
    per_poll = len(set(calls))  # distinct (engine, iteration): what batching reduces calls to
    if ingest_per == "batch":
        assert len(calls) == per_poll < records
    else:
        assert len(calls) == records > per_poll


def test_per_message_is_the_default_and_equals_replay(harness: Harness) -> None:
    calls: list[tuple[int, int]] = []
    harness.worker(engine_factory=_counting(calls))
    lines = outages(seed=3, faults=10)
    harness.produce(lines)
    harness.run()
    harness.drain()
    assert len(calls) == len(_repartition_records(harness))
    assert_same_incidents(harness.final(), expected_final(harness.topology_path, lines))


def _same_but_cadence(harness: Harness, lines: list[bytes]) -> None:
    """Same incidents, same alerts, status, root cause, priority...; what depends on how
    often the engine published may differ: the version count, the last version's `changes`,
    the cost accrued (booked at each assessment's rate), and `recurrence` (counted when a
    version is rendered, so a later last version may see a repeat resolved meanwhile)."""
    got, want = harness.final(), expected_final(harness.topology_path, lines)
    assert sorted(got) == sorted(want)
    for inc_id, record in want.items():
        mine = got[inc_id].model_dump(mode="json")
        theirs = record.model_dump(mode="json")
        for field in ("version", "changes", "recurrence"):
            mine.pop(field), theirs.pop(field)
        mine["cost"].pop("accrued"), theirs["cost"].pop("accrued")
        assert mine == theirs, inc_id


def test_per_batch_final_states_match_replay_but_for_publishing_cadence(tmp_path: Path) -> None:
    harness = Harness(tmp_path, ingest_per="batch", max_poll_records=10_000)
    harness.worker()
    lines = outages(seed=3, faults=10)
    harness.produce(lines)
    harness.run()
    harness.drain()
    _same_but_cadence(harness, lines)


@pytest.mark.parametrize("ingest_per", ["message", "batch"])
def test_a_resent_source_message_in_the_same_batch_is_applied_once(
    tmp_path: Path, ingest_per: str
) -> None:
    """Stage 1 re-sent a message (crash before its commit): both copies arrive in one poll;
    the second is dropped by the checkpoint before the engine sees it."""
    harness = Harness(tmp_path, ingest_per=ingest_per)
    calls: list[tuple[int, int]] = []
    worker = harness.worker(engine_factory=_counting(calls))
    lines = outages(seed=3, faults=2)
    harness.produce(lines[:1])
    harness.run()
    [record] = _repartition_records(harness)
    first_calls = len(calls)
    source = Message(
        topic=harness.config.alerts_topic,
        partition=0,
        offset=1,
        key=None,
        value=None,
        headers=(),
        timestamp_ms=1,
    )
    payload = record.value
    for _ in range(2):
        harness.broker.append(
            record.topic,
            record.partition,
            record.key,
            payload,
            headers=source_headers(source),
        )
    harness.run()
    assert len(calls) == first_calls + 1
    duplicates = worker.metrics.registry.get_sample_value("correlator_duplicates_skipped_total")
    assert duplicates == 1


@pytest.mark.parametrize("crash_after", [3, 17, 41])
def test_per_batch_crash_then_restart_ends_where_an_uninterrupted_run_does(
    tmp_path: Path, crash_after: int
) -> None:
    lines = outages(seed=8, faults=6)
    harness = Harness(tmp_path, ingest_per="batch")
    harness.produce(lines)
    worker = harness.worker()
    producer = worker.producer
    assert isinstance(producer, MemoryProducer)
    producer.crash_after = crash_after
    with pytest.raises(SimulatedCrash):
        for _ in range(200):
            worker.run_once()
        raise SimulatedCrash
    harness.kill(worker)
    harness.worker()
    harness.run()
    harness.drain()
    _same_but_cadence(harness, lines)


@pytest.mark.parametrize("interval", [timedelta(minutes=1), timedelta(0)])
def test_the_heap_is_frozen_after_a_restore(
    tmp_path: Path, frozen_heap_restored: None, interval: timedelta
) -> None:
    harness = Harness(tmp_path, gc_freeze_interval=interval)
    harness.worker()  # loading the topology freezes what it built (topology.loader)
    before = gc.get_freeze_count()
    harness.produce(outages(seed=3, faults=2))
    harness.run()  # the first assignment restores three engines
    if interval:
        assert gc.get_freeze_count() > before
    else:
        assert gc.get_freeze_count() <= before


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_garbage_frozen_with_the_state_is_collected_every_gc_full_interval(
    tmp_path: Path, frozen_heap_restored: None
) -> None:
    harness = Harness(tmp_path, gc_full_interval=timedelta(hours=1))
    worker = harness.worker()
    harness.produce(outages(seed=3, faults=1))
    harness.run()
    # A cycle alive at a freeze that dies afterwards: no collection reaches it any more.
    cycle = _Cycle()
    gone = weakref.ref(cycle)
    gc.freeze()
    del cycle
    harness.mono.advance(120)
    worker.run_once()  # a periodic freeze: a young collection only
    assert gone() is not None
    harness.mono.advance(3600)
    worker.run_once()  # gc_full_interval passed: everything unfrozen and collected
    assert gone() is None
    assert gc.get_freeze_count() > 0  # and what is alive frozen again
