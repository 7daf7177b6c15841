"""`HeapTrim`: malloc_trim at most every interval, and the memory it gives back is counted."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from correlator.worker.heap_trim import HeapTrim, resident_bytes
from correlator.worker.metrics import Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _trim(interval: float, clock: Clock, metrics: Metrics) -> HeapTrim:
    return HeapTrim(interval, clock, metrics.heap_trim_duration, metrics.heap_trim_released)


def _trims(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("correlator_heap_trim_duration_seconds_count")
    return value or 0.0


def test_it_trims_at_most_once_per_interval() -> None:
    clock, metrics = Clock(), Metrics()
    trim = _trim(60, clock, metrics)
    if not trim.available:
        pytest.skip("no malloc_trim in this C library")
    trim.maybe()
    assert _trims(metrics) == 0  # the interval counts from start
    clock.now = 61
    trim.maybe()
    clock.now = 100
    trim.maybe()
    assert _trims(metrics) == 1
    clock.now = 122
    trim.maybe()
    assert _trims(metrics) == 2


def test_an_interval_of_zero_never_trims() -> None:
    clock, metrics = Clock(), Metrics()
    trim = _trim(0, clock, metrics)
    clock.now = 1e9
    trim.maybe()
    assert not trim.available
    assert _trims(metrics) == 0


def test_freed_memory_scattered_through_the_heap_is_given_back() -> None:
    clock, metrics = Clock(), Metrics()
    trim = _trim(1, clock, metrics)
    if not trim.available or resident_bytes() is None:
        pytest.skip("needs glibc and /proc")
    # 60 MB of 1 KB objects (over Python's 512-byte small-object limit, so from malloc), nine
    # in ten freed: the holes stay in glibc's heap (the survivors pin it), the RSS stays up.
    held = [bytes(1000) + str(i).encode() for i in range(60_000)]
    survivors = held[::10]
    del held
    clock.now = 2
    trim.maybe()
    released = metrics.registry.get_sample_value("correlator_heap_trim_released_bytes_total")
    assert released is not None and released > 10 * 2**20, released
    assert len(survivors) > 0
    assert b"correlator_heap_trim_duration_seconds_bucket" in generate_latest(metrics.registry)
