"""Everything the worker writes goes through `Output`: a producer whose broker-wide failures
stop the worker (`FatalError`), plus the dead-letter record format.

Every record is bounded by construction (RELIABILITY.md): one over `max_record_bytes` (the
producer's `max_request_size`) is never sent, and a record the producer or the broker refuses
for itself (too large, invalid: `RecordRejectedError`) costs that record only. Either way the
worker counts it (`correlator_records_refused_total`), logs it, and dead-letters a small
notice naming the topic, the key (cut) and the size, then carries on: before, one such
record stopped the worker, and its restart re-did the same batch, for ever. A dead letter
keeps at most `DLQ_KEY_BYTES` of the key, `DLQ_HEADER_BYTES` of each original header and
`DLQ_HEADERS_BYTES` of them all, and `dlq_max_bytes` of the value, with headers saying what
was cut.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from correlator.core.model import rfc3339
from correlator.worker.errors import FatalError
from correlator.worker.metrics import Metrics
from correlator.worker.ports import Headers, Message, ProduceError, Producer, RecordRejectedError

# One logger for all the parts of the loop: operators filter their logs on this name.
log = logging.getLogger("correlator.worker.loop")

#: Headers on dead letters.
H_DLQ_REASON = "correlator.dlq.reason"
H_DLQ_CODE = "correlator.dlq.code"
H_DLQ_TOPIC = "correlator.dlq.topic"
H_DLQ_PARTITION = "correlator.dlq.partition"
H_DLQ_OFFSET = "correlator.dlq.offset"
H_DLQ_TIMESTAMP = "correlator.dlq.timestamp"
H_DLQ_TIME = "correlator.dlq.time"
H_DLQ_TRUNCATED = "correlator.dlq.truncated"
H_DLQ_KEY_TRUNCATED = "correlator.dlq.key_truncated"
H_DLQ_HEADERS_DROPPED = "correlator.dlq.headers_dropped"

#: What a dead letter keeps of the original record (see the module notes).
DLQ_KEY_BYTES = 1024
DLQ_HEADER_BYTES = 4096
DLQ_HEADERS_BYTES = 64 * 1024
#: Kafka's per-record and per-batch overhead, plus our own dead-letter headers, on top of key,
#: value and headers: what `record_size` adds so the estimate is never below the real size.
RECORD_OVERHEAD = 4096


def record_size(key: bytes | None, value: bytes | None, headers: Headers) -> int:
    """An upper estimate of the record's size as the producer counts it (uncompressed)."""
    size = RECORD_OVERHEAD + len(key or b"") + len(value or b"")
    for name, data in headers:
        size += len(name) * 4 + len(data or b"")
    return size


class Output:
    """The loop's producer. When the broker cannot be written, the worker ends without a
    commit, so its restart produces the batch again: nothing is lost, at worst re-published.
    A record refused for itself is dropped and noted instead (see the module notes)."""

    def __init__(
        self,
        producer: Producer,
        *,
        flush_timeout: float,
        dlq_topic: str,
        dlq_max_bytes: int,
        metrics: Metrics,
        wall: Callable[[], datetime],
        max_record_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.producer = producer
        self._flush_timeout = flush_timeout
        self._dlq_topic = dlq_topic
        self._max_record_bytes = max_record_bytes
        # Whatever the settings say, a dead letter fits a record with room for its headers.
        room = max_record_bytes - DLQ_KEY_BYTES - DLQ_HEADERS_BYTES - 2 * RECORD_OVERHEAD
        self._dlq_max_bytes = max(0, min(dlq_max_bytes, room))
        self._metrics = metrics
        self._wall = wall

    def send(
        self,
        topic: str,
        *,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
    ) -> bool:
        """Queue one record; False when it was refused for itself (counted, logged and noted
        in the dead-letter topic); raises FatalError when the broker cannot be written."""
        size = record_size(key, value, headers)
        if size > self._max_record_bytes:
            self._refused(topic, key, f"{size} bytes, over the {self._max_record_bytes} limit")
            return False
        try:
            self.producer.send(topic, partition=partition, key=key, value=value, headers=headers)
        except RecordRejectedError as exc:
            self._refused(topic, key, str(exc))
            return False
        except ProduceError as exc:
            raise FatalError(f"cannot write to {topic}: {exc}") from exc
        return True

    def flush(self) -> None:
        try:
            self.producer.flush(self._flush_timeout)
        except RecordRejectedError as exc:
            # The broker took every other record: drop these, note them, and go on.
            for topic, why in exc.rejected:
                self._refused(topic, None, why)
            self.flush()
        except ProduceError as exc:
            raise FatalError(f"cannot write outputs: {exc}") from exc

    def _refused(self, topic: str, key: bytes | None, why: str) -> None:
        self._metrics.records_refused.labels(topic=topic).inc()
        log.error("record to %s refused, dropped: %s", topic, why)
        if topic == self._dlq_topic:
            return  # never a notice about a notice
        headers = [
            (H_DLQ_CODE, b"record_refused"),
            (H_DLQ_REASON, why.encode("utf-8", "replace")[:2000]),
            (H_DLQ_TOPIC, topic.encode()),
            (H_DLQ_TIME, (rfc3339(self._wall()) or "").encode()),
        ]
        if key is not None and len(key) > DLQ_KEY_BYTES:
            headers.append((H_DLQ_KEY_TRUNCATED, str(len(key)).encode()))
        cut = key[:DLQ_KEY_BYTES] if key is not None else None
        self.send(self._dlq_topic, partition=None, key=cut, value=b"", headers=tuple(headers))
        self._metrics.dead_letters.labels(reason="record_refused").inc()

    def dead_letter(self, message: Message, code: str, reason: str) -> None:
        """The original record, bounded (see the module notes), plus why and from where."""
        value = message.value
        limit = self._dlq_max_bytes
        headers, dropped = _bounded_headers(message.headers)
        if dropped:
            headers.append((H_DLQ_HEADERS_DROPPED, str(dropped).encode()))
        if value is not None and len(value) > limit:
            headers.append((H_DLQ_TRUNCATED, str(len(value)).encode()))
            value = value[:limit]
        key = message.key
        if key is not None and len(key) > DLQ_KEY_BYTES:
            headers.append((H_DLQ_KEY_TRUNCATED, str(len(key)).encode()))
            key = key[:DLQ_KEY_BYTES]
        headers.extend(
            [
                (H_DLQ_REASON, reason.encode("utf-8", "replace")[:2000]),
                (H_DLQ_CODE, code.encode()),
                (H_DLQ_TOPIC, message.topic.encode()),
                (H_DLQ_PARTITION, str(message.partition).encode()),
                (H_DLQ_OFFSET, str(message.offset).encode()),
                (H_DLQ_TIMESTAMP, str(message.timestamp_ms).encode()),
                (H_DLQ_TIME, (rfc3339(self._wall()) or "").encode()),
            ]
        )
        self.send(
            self._dlq_topic,
            partition=None,
            key=key,
            value=value if value is not None else b"",
            headers=tuple(headers),
        )
        self._metrics.dead_letters.labels(reason=code).inc()
        log.warning(
            "dead letter %s/%d@%d (%s): %s",
            message.topic,
            message.partition,
            message.offset,
            code,
            reason[:500],
        )

    def close(self, *, clean: bool) -> None:
        """Flush (when leaving cleanly) and close; errors are only logged: we are leaving."""
        try:
            if clean:
                self.producer.flush(self._flush_timeout)
        except ProduceError as exc:
            log.error("final flush failed: %s", exc)
        try:
            self.producer.close()
        except Exception as exc:
            log.warning("closing the producer: %s", exc)


def _bounded_headers(headers: Headers) -> tuple[list[tuple[str, bytes]], int]:
    """The original headers a dead letter keeps, and how many it drops."""
    kept: list[tuple[str, bytes]] = []
    total = dropped = 0
    for name, data in headers:
        size = len(name) + len(data or b"")
        if size > DLQ_HEADER_BYTES or total + size > DLQ_HEADERS_BYTES:
            dropped += 1
            continue
        total += size
        kept.append((name, data))
    return kept, dropped


__all__ = [
    "DLQ_HEADERS_BYTES",
    "DLQ_HEADER_BYTES",
    "DLQ_KEY_BYTES",
    "H_DLQ_CODE",
    "H_DLQ_HEADERS_DROPPED",
    "H_DLQ_KEY_TRUNCATED",
    "H_DLQ_OFFSET",
    "H_DLQ_PARTITION",
    "H_DLQ_REASON",
    "H_DLQ_TIME",
    "H_DLQ_TIMESTAMP",
    "H_DLQ_TOPIC",
    "H_DLQ_TRUNCATED",
    "RECORD_OVERHEAD",
    "Output",
    "record_size",
]
