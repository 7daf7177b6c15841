"""The state changelog: checkpoints, restore, and undoing an unfinished batch."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from correlator.worker.changelog import (
    WORKER_KEY,
    Checkpoint,
    Restorer,
    StateError,
    encode_value,
    repair_records,
)
from correlator.worker.ports import Message


def _log(*records: tuple[str, object]) -> list[Message]:
    return [
        Message(
            topic="s",
            partition=0,
            offset=i,
            key=key.encode(),
            value=value if isinstance(value, bytes) or value is None else encode_value(value),
        )
        for i, (key, value) in enumerate(records)
    ]


def _cp(offset: int) -> bytes:
    return Checkpoint(offset=offset, clock=datetime(2026, 1, 1, tzinfo=UTC)).to_json()


def test_checkpoint_round_trip() -> None:
    cp = Checkpoint(
        offset=42, sources={"alerts/0": (17, 0)}, clock=datetime(2026, 1, 1, tzinfo=UTC)
    )
    back = Checkpoint.from_json(cp.to_json())
    assert back == cp
    with pytest.raises(StateError):
        Checkpoint.from_json(b"{nope")


def test_state_up_to_the_last_checkpoint_is_committed_the_rest_undone() -> None:
    restorer = Restorer(0)
    restored = restorer.feed_all(
        _log(
            ("meta", {"clock": 1}),
            ("incident/A", {"v": 1}),
            (WORKER_KEY, _cp(5)),
            ("incident/A", {"v": 2}),
            ("incident/B", {"v": 1}),
            ("alert/x", None),
            (WORKER_KEY, _cp(9)),
            ("incident/A", {"v": 3}),  # an unfinished batch: no checkpoint after it
            ("incident/C", {"v": 1}),
            ("incident/B", None),
        )
    )
    assert restored.state == {"meta": {"clock": 1}, "incident/A": {"v": 2}, "incident/B": {"v": 1}}
    assert restored.checkpoint.offset == 9
    assert set(restored.uncommitted) == {"incident/A", "incident/C", "incident/B"}
    repairs = dict(repair_records(restorer, restored))
    assert orjson.loads(repairs["incident/A"] or b"") == {"v": 2}
    assert orjson.loads(repairs["incident/B"] or b"") == {"v": 1}
    assert repairs["incident/C"] is None  # did not exist when committed: a tombstone
    assert Checkpoint.from_json(repairs[WORKER_KEY] or b"").offset == 9


def test_repaired_log_restores_to_the_same_state() -> None:
    records = [
        ("incident/A", {"v": 1}),
        (WORKER_KEY, _cp(3)),
        ("incident/A", {"v": 9}),
        ("incident/Z", {"v": 9}),
    ]
    first = Restorer(0)
    restored = first.feed_all(_log(*records))
    repaired = records + [(k, v) for k, v in repair_records(first, restored)]
    again = Restorer(0).feed_all(_log(*repaired))
    assert again.state == restored.state == {"incident/A": {"v": 1}}
    assert not again.uncommitted
    # compaction keeps the newest record per key, in log order: still the same state
    newest: dict[str, int] = {}
    for i, (key, _) in enumerate(repaired):
        newest[key] = i
    compacted = [rec for i, rec in enumerate(repaired) if newest[rec[0]] == i]
    assert Restorer(0).feed_all(_log(*compacted)).state == restored.state


def test_empty_partition_restores_to_nothing() -> None:
    restored = Restorer(3).feed_all([])
    assert restored.empty and restored.state == {} and restored.checkpoint.offset == 0


def test_duplicates_are_recognised_within_the_window() -> None:
    cp = Checkpoint()
    assert not cp.is_duplicate("alerts/0", 10, 0, window=100)
    cp.applied("alerts/0", 10, 0)
    assert cp.is_duplicate("alerts/0", 10, 0, window=100)
    assert cp.is_duplicate("alerts/0", 5, 0, window=100)
    assert not cp.is_duplicate("alerts/0", 11, 0, window=100)
    assert not cp.is_duplicate("alerts/1", 5, 0, window=100)
    # far behind: a deliberate rewind of the input, not a re-delivery
    cp.applied("alerts/0", 1_000, 0)
    assert not cp.is_duplicate("alerts/0", 5, 0, window=100)
