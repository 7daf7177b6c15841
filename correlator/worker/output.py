"""Everything the worker writes goes through `Output`: a producer whose failures stop the
worker (`FatalError`), plus the dead-letter record format."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from correlator.core.model import rfc3339
from correlator.worker.errors import FatalError
from correlator.worker.metrics import Metrics
from correlator.worker.ports import Headers, Message, ProduceError, Producer

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


class Output:
    """The loop's producer. A record that cannot be written ends the worker without a commit,
    so its restart produces the batch again: nothing is lost, at worst re-published."""

    def __init__(
        self,
        producer: Producer,
        *,
        flush_timeout: float,
        dlq_topic: str,
        dlq_max_bytes: int,
        metrics: Metrics,
        wall: Callable[[], datetime],
    ) -> None:
        self.producer = producer
        self._flush_timeout = flush_timeout
        self._dlq_topic = dlq_topic
        self._dlq_max_bytes = dlq_max_bytes
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
    ) -> None:
        try:
            self.producer.send(topic, partition=partition, key=key, value=value, headers=headers)
        except ProduceError as exc:
            raise FatalError(f"cannot write to {topic}: {exc}") from exc

    def flush(self) -> None:
        try:
            self.producer.flush(self._flush_timeout)
        except ProduceError as exc:
            raise FatalError(f"cannot write outputs: {exc}") from exc

    def dead_letter(self, message: Message, code: str, reason: str) -> None:
        """The original bytes (cut to `dlq_max_bytes`) and headers, plus why and from where."""
        value = message.value
        headers: list[tuple[str, bytes]] = list(message.headers)
        limit = self._dlq_max_bytes
        if value is not None and len(value) > limit:
            headers.append((H_DLQ_TRUNCATED, str(len(value)).encode()))
            value = value[:limit]
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
            key=message.key,
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
            reason,
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


__all__ = [
    "H_DLQ_CODE",
    "H_DLQ_OFFSET",
    "H_DLQ_PARTITION",
    "H_DLQ_REASON",
    "H_DLQ_TIME",
    "H_DLQ_TIMESTAMP",
    "H_DLQ_TOPIC",
    "H_DLQ_TRUNCATED",
    "Output",
]
