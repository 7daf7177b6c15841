"""Tansu answers a fetch with no records at all when reading them takes longer than the fetch's
`max_wait_ms`, and its in-memory log reads slower the more record batches it holds. With the
worker's 10 ms, a consumer a few thousand records behind on a log of tens of thousands of small
batches got empty answers for ever: its position never moved while the high watermark grew (the
soak stall in RELIABILITY.md). `FetchWait` lengthens the wait while fetches come back empty
behind the high watermark and puts it back once caught up.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("correlator.worker.kafka.client")


class FetchWait:
    """The fetch `max_wait_ms` to use next: the configured one while fetches return records or
    nothing is left to read; doubled (up to `ceiling`) after `patience` polls in a row that
    returned nothing while a partition was behind its high watermark. On Apache Kafka a fetch
    answers as soon as records exist, so a longer wait costs nothing while behind; it is put
    back once every partition is caught up, where it bounds the latency of a quiet one."""

    def __init__(self, base_ms: int, *, ceiling_ms: int = 2_000, patience: int = 3) -> None:
        self.base = base_ms
        self.ceiling = max(base_ms, ceiling_ms)
        self.patience = patience
        self.current = base_ms
        self._empty_behind = 0

    def observe(self, *, got_records: bool, behind: bool) -> int:
        """Record one poll's outcome; return the wait for the next fetches."""
        if not behind:
            self._empty_behind = 0
            self.current = self.base
        elif got_records:
            self._empty_behind = 0
        else:
            self._empty_behind += 1
            if self._empty_behind >= self.patience and self.current < self.ceiling:
                self.current = min(self.ceiling, max(2 * self.current, 50))
                self._empty_behind = 0
        return self.current

    def adapt(self, consumer: Any, *, got_records: bool) -> None:
        """Apply `observe` to a kafka-python KafkaConsumer after one poll. Its fetcher reads
        `fetch_max_wait_ms` from its own config for every request it builds, so the new wait
        holds from the next fetch on."""
        config = getattr(getattr(consumer, "_fetcher", None), "config", None)
        if not isinstance(config, dict):
            return
        before = self.current
        wait = self.observe(got_records=got_records, behind=_behind(consumer))
        if wait != before:
            why = "empty fetches behind the high watermark" if wait > before else "caught up"
            level = logging.WARNING if wait > before else logging.INFO
            log.log(level, "fetch max wait %d ms -> %d ms (%s)", before, wait, why)
        config["fetch_max_wait_ms"] = wait


def _behind(consumer: Any) -> bool:
    """Whether a fetchable (assigned, not paused) partition's position is below the high
    watermark of its last fetch response, from the subscription state (no network call)."""
    states = getattr(getattr(consumer, "_subscription", None), "assignment", {})
    for state in list(states.values()):
        position = getattr(state, "position", None)
        highwater = getattr(state, "highwater", None)
        if position is None or highwater is None or getattr(state, "paused", False):
            continue
        offset = position.offset if hasattr(position, "offset") else int(position)
        if offset < highwater:
            return True
    return False


__all__ = ["FetchWait"]
