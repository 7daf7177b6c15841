"""Handing freed memory back to the system, so the RSS follows what the worker holds.

Python takes objects over 512 bytes (record bytes, JSON, large dicts) from the C library's
malloc, and glibc keeps freed chunks in its heaps for reuse instead of returning them: after a
burst (a backlog read at full speed, a restore) the worker's RSS stays at the burst's peak,
and under churn the free space scattered through the heaps grows. Measured in the soak
(RELIABILITY.md): half of glibc's heap was free space the process still held. `malloc_trim(0)`
gives every whole free page back (it walks glibc's free lists: milliseconds, on the loop
thread between batches), so the worker calls it every `heap_trim_interval`. On a C library
without it (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from typing import Final

from prometheus_client import Counter, Histogram

_PAGE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def resident_bytes() -> int | None:
    """This process's RSS, from /proc (None elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


class HeapTrim:
    """Calls `malloc_trim(0)` at most every `interval` seconds (0: never)."""

    def __init__(
        self,
        interval: float,
        monotonic: Callable[[], float],
        duration: Histogram,
        released: Counter,
    ) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._trim = _malloc_trim() if interval > 0 else None
        self._last = monotonic()
        self._duration = duration
        self._released = released

    @property
    def available(self) -> bool:
        return self._trim is not None

    def maybe(self) -> None:
        if self._trim is None:
            return
        began = self._monotonic()
        if began - self._last < self._interval:
            return
        before = resident_bytes()
        self._trim(0)
        self._last = self._monotonic()
        self._duration.observe(self._last - began)
        after = resident_bytes()
        if before is not None and after is not None and before > after:
            self._released.inc(before - after)


__all__ = ["HeapTrim", "resident_bytes"]
