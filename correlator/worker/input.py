"""Stage 1: the alerts topic in, the repartition topic out.

`InputBuffer` holds what was polled from the alerts partitions and releases it in timestamp
order across partitions, pausing partitions that run far ahead; `Decode` turns each message
into alerts (or a dead letter) and routes every alert to the repartition partition of its
topology domain (`correlator.worker.routing`), so that alerts that can correlate meet in one
engine.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Callable, Set
from datetime import UTC, datetime

from correlator.core.bounds import EVENT_TIME_MAX, EVENT_TIME_MIN, event_time_problem
from correlator.core.model import Alert
from correlator.core.settings import BoundSettings
from correlator.wire.decode.errors import DecodeError
from correlator.worker.checkpoint import Batch
from correlator.worker.engine import Decoder
from correlator.worker.metrics import Metrics
from correlator.worker.output import Output
from correlator.worker.ports import TP, Consumer, Message
from correlator.worker.repartition import encode_record, source_headers
from correlator.worker.routing import partition_for, routing_key
from correlator.worker.topology_watch import TopologyWatch

log = logging.getLogger("correlator.worker.loop")

EPOCH_MIN = EVENT_TIME_MIN.timestamp()
EPOCH_MAX = EVENT_TIME_MAX.timestamp()


class InputBuffer:
    """Polled alerts-topic messages waiting to be decoded, per input partition."""

    def __init__(
        self,
        alerts_topic: str,
        *,
        max_records: int,
        merge_wait: float,
        monotonic: Callable[[], float],
    ) -> None:
        self._topic = alerts_topic
        self._limit = max_records
        self._merge_wait = merge_wait
        self._mono = monotonic
        self._pending: dict[TP, deque[Message]] = {}
        self._paused: set[TP] = set()
        self._blocked_since: float | None = None

    def add(self, message: Message) -> None:
        self._pending.setdefault(message.tp, deque()).append(message)

    def follow(self, assignment: Set[TP], gone: Set[TP], *, new_generation: bool) -> None:
        """After a rebalance: forget what was buffered for partitions no longer ours (or
        revoked and given back: their new owner reads them from the last commit)."""
        for tp in list(self._pending):
            if tp not in assignment or tp in gone:
                del self._pending[tp]
        self._paused &= assignment
        if new_generation:
            self._paused.clear()  # a new assignment starts unpaused

    def take(self, consumer: Consumer, assignment: Set[TP]) -> list[Message]:
        """The buffered messages that can be decoded now, in timestamp order across
        partitions (per partition, in offset order). A partition with data not yet fetched
        holds the rest back for up to `merge_wait`, so that a backlog read from several
        partitions reaches the engines in time order, as it was produced."""
        pending = self._pending
        if not pending:
            return []
        inputs = [tp for tp in assignment if tp.topic == self._topic]
        if len(inputs) == 1 and len(pending) == 1:  # one input partition: its own order
            ((_, only),) = pending.items()
            everything = list(only)
            only.clear()
            return everything
        positions = consumer.positions()
        blocked = False
        for tp in assignment:
            if tp.topic != self._topic or pending.get(tp):
                continue
            position, end = positions.get(tp, (0, None))
            if end is None or position < end:
                blocked = True
        mono = self._mono()
        waited_out = False
        if blocked:
            if self._blocked_since is None:
                self._blocked_since = mono
            if mono - self._blocked_since < self._merge_wait:
                self._pause_full(consumer)
                return []
            waited_out = True
        self._blocked_since = None
        out: list[Message] = []
        heads = [(q[0].timestamp_ms, tp, q) for tp, q in pending.items() if q]
        heapq.heapify(heads)
        while heads and len(out) < self._limit:
            _, tp, queue = heapq.heappop(heads)
            out.append(queue.popleft())
            if queue:
                heapq.heappush(heads, (queue[0].timestamp_ms, tp, queue))
                continue
            position, end = positions.get(tp, (0, None))
            caught_up = end is not None and out[-1].offset + 1 >= end
            if not caught_up and not waited_out:
                break  # its next records are not fetched yet: stop here, in order
        self._pause_full(consumer)
        return out

    def _pause_full(self, consumer: Consumer) -> None:
        """Stop fetching partitions far ahead of the others; resume them once drained."""
        limit = self._limit
        full = {tp for tp, q in self._pending.items() if len(q) >= limit}
        drained = {tp for tp in self._paused if len(self._pending.get(tp, ())) < limit // 2}
        if full - self._paused:
            consumer.pause(full - self._paused)
        if drained:
            consumer.resume(drained)
        self._paused = (self._paused | full) - drained


def record_time(timestamp_ms: int) -> datetime | None:
    """A record's Kafka timestamp as a datetime; None when it has none or one out of range (a
    producer may set any 64-bit value, and `fromtimestamp` raises on most of them)."""
    if timestamp_ms < 0:
        return None
    seconds = timestamp_ms / 1000
    if not EPOCH_MIN <= seconds < EPOCH_MAX:
        return None
    return datetime.fromtimestamp(seconds, UTC)


class Decode:
    """Stage 1 for one message: decode, route, produce one repartition record per
    destination partition (or a dead letter)."""

    def __init__(
        self,
        decoder: Decoder,
        *,
        output: Output,
        topology: TopologyWatch,
        repartition_topic: str,
        partitions: int,
        max_message_bytes: int,
        metrics: Metrics,
        wall: Callable[[], datetime],
        bounds: BoundSettings | None = None,
    ) -> None:
        self._bounds = bounds or BoundSettings()
        self._decode = decoder
        self._output = output
        self._topology = topology
        self._topic = repartition_topic
        self._partitions = partitions
        self._max_bytes = max_message_bytes
        self._metrics = metrics
        self._wall = wall

    def __call__(self, message: Message, batch: Batch) -> None:
        metrics = self._metrics
        if message.value is None:  # a tombstone on the alerts topic: somebody's mistake
            self._output.dead_letter(message, "null_value", "the record has no value")
            batch.sent += 1
            metrics.events_consumed.labels(format="none", outcome="dead_letter").inc()
            return
        written = record_time(message.timestamp_ms)
        received = written or self._wall()
        try:
            alerts = self._decode(message.value, received_at=received, max_bytes=self._max_bytes)
        except Exception as exc:
            if isinstance(exc, DecodeError):
                code, reason = str(exc.code), str(exc.reason)
            else:
                log.exception("decoder failed on %s/%d@%d", *message.tp, message.offset)
                code, reason = "decoder_error", f"decoder failed: {type(exc).__name__}: {exc}"
            self._output.dead_letter(message, code, reason)
            batch.sent += 1
            metrics.events_consumed.labels(format="unknown", outcome="dead_letter").inc()
            return
        if not alerts:
            metrics.events_consumed.labels(format="unknown", outcome="empty").inc()
            return
        problem = self._time_problem(alerts, written)
        if problem is not None:  # never let it move an engine's clock (RELIABILITY.md)
            self._output.dead_letter(message, "bad_timestamp", problem)
            batch.sent += 1
            metrics.events_consumed.labels(format=alerts[0].format, outcome="dead_letter").inc()
            return
        fmt = alerts[0].format
        metrics.events_consumed.labels(format=fmt, outcome="ok").inc()
        metrics.alerts_decoded.labels(format=fmt).inc(len(alerts))
        # One repartition record per destination partition, carrying all the message's alerts
        # for it: the engine ingests them together and publishes once per incident, as
        # `correlator replay` does with the alerts of one line.
        groups: dict[int, tuple[str, list[Alert]]] = {}
        for alert in alerts:
            for key, partition in self.routes(alert):
                groups.setdefault(partition, (key, []))[1].append(alert)
        headers = source_headers(message)
        for partition, (key, items) in sorted(groups.items()):
            self._output.send(
                self._topic,
                partition=partition,
                key=key.encode(),
                value=encode_record(items),
                headers=headers,
            )
            batch.sent += 1

    def _time_problem(self, alerts: list[Alert], written: datetime | None) -> str | None:
        """Why one of the message's alerts has a time too far ahead of the wall clock (or a
        resolve too far behind its record's own time), if one does: the whole message goes
        to the dead letters, as for any unreadable field."""
        bounds = self._bounds
        wall = self._wall()
        for alert in alerts:
            problem = event_time_problem(
                alert,
                now=wall,
                max_future=bounds.max_future,
                written=written,
                max_past=bounds.max_past,
            )
            if problem is not None:
                return f"alert {alert.fingerprint}: {problem}"
        return None

    def routes(self, alert: Alert) -> list[tuple[str, int]]:
        """Where an alert goes: its domain's partition. A resolve that carries nothing to route
        it by (a PagerDuty resolve has no labels) is sent to every partition, and an engine that
        never saw the alert ignores it; a mapped resolve also goes where the
        previous topology routed it, within a grace period after a reload."""
        n = self._partitions
        try:
            key = routing_key(self._topology.current, alert)
        except Exception:  # a topology bug must not stop the stream
            log.exception("routing failed for alert %s", alert.fingerprint)
            key = f"unmapped:alertname={alert.name}"
        if alert.status != "resolved":
            return [(key, partition_for(key, n))]
        if key.startswith("unmapped:"):
            if alert.labels or alert.node:
                # Same labels as its firing: the same unmapped key, so the same partition.
                return [(key, partition_for(key, n))]
            return [(key, p) for p in range(n)]
        routes = {partition_for(key, n): key}
        for _, old in self._topology.previous:
            try:
                old_key = routing_key(old, alert)
            except Exception:  # the current route stands
                continue
            routes.setdefault(partition_for(old_key, n), old_key)
        return [(k, p) for p, k in sorted(routes.items())]


__all__ = ["Decode", "InputBuffer"]
