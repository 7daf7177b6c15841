"""`FetchWait`: the fetch wait grows only while fetches come back empty behind the high
watermark, and is back to the configured one once caught up."""

from __future__ import annotations

from correlator.worker.kafka.fetch_wait import FetchWait


def test_empty_fetches_behind_lengthen_the_wait_up_to_the_ceiling() -> None:
    wait = FetchWait(10, ceiling_ms=400, patience=3)
    seen = [wait.observe(got_records=False, behind=True) for _ in range(30)]
    assert seen[:2] == [10, 10]  # patience: a fetch in flight is not a stall
    assert seen[2] == 50
    assert sorted(set(seen)) == [10, 50, 100, 200, 400]
    assert seen[-1] == 400


def test_records_or_caught_up_keep_or_restore_the_wait() -> None:
    wait = FetchWait(10, ceiling_ms=400, patience=2)
    for _ in range(4):
        wait.observe(got_records=False, behind=True)
    assert wait.current == 100
    # Records arriving while still behind: the longer wait is what lets them arrive.
    assert wait.observe(got_records=True, behind=True) == 100
    # One empty poll after records does not grow it (the count starts again).
    assert wait.observe(got_records=False, behind=True) == 100
    assert wait.observe(got_records=True, behind=False) == 10


def test_nothing_to_read_never_lengthens_the_wait() -> None:
    wait = FetchWait(10)
    for _ in range(50):
        assert wait.observe(got_records=False, behind=False) == 10
