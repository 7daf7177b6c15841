"""`POST /webhook` (the HTTP input, docs/formats.md) and the acknowledged producer behind it and
behind desk subscriptions.

`AckedSender` is a group commit: requests queue their record, one sender thread sends every
record waiting, flushes once, and answers them all. 200 concurrent Alertmanager senders then
cost a handful of flushes rather than 200 one after the other (the previous design held a
lock around send+flush per request, so the 200th sender waited for 199 round trips), and the
answer still comes only after the broker acknowledged the record (acks=all).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from correlator.wire.decode import DecodeError, decode
from correlator.worker.ports import Producer

if TYPE_CHECKING:
    from correlator.worker.config import WorkerConfig

log = logging.getLogger(__name__)

#: Records sent per flush at most: bounds one flush's size (and so its time) under a storm.
MAX_BATCH = 500
#: Records waiting at most; beyond it requests are refused with 503 at once rather than queue
#: for longer than a sender waits (Alertmanager gives up after 10 s and retries).
MAX_WAITING = 5000


@dataclass(slots=True)
class Reply:
    code: int
    body: dict[str, object]
    headers: tuple[tuple[str, str], ...] = ()


class SendError(Exception):
    """Not acknowledged: the producer failed, or the sender is overloaded or closed."""


@dataclass(slots=True)
class _Pending:
    topic: str
    key: bytes | None
    value: bytes
    done: Future[None] = field(default_factory=Future)


class AckedSender:
    """One thread, one producer (built on first use by `producer_factory`: the worker's
    `Clients.producer`, never the loop's own). A producer that failed is replaced."""

    def __init__(self, producer_factory: Callable[[], Producer], timeout: float) -> None:
        self._factory = producer_factory
        self.timeout = timeout
        self._queue: queue.Queue[_Pending | None] = queue.Queue(MAX_WAITING)
        self._producer: Producer | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def submit(self, topic: str, key: bytes | None, value: bytes) -> Future[None]:
        if self._closed:
            raise SendError("shutting down")
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="correlator-http-producer", daemon=True
                )
                self._thread.start()
        pending = _Pending(topic, key, value)
        try:
            self._queue.put_nowait(pending)
        except queue.Full:
            raise SendError(f"busy: {MAX_WAITING} records already waiting") from None
        return pending.done

    async def send(self, topic: str, key: bytes | None, value: bytes) -> None:
        """Wait (without holding the event loop) until the record is acknowledged."""
        future = self.submit(topic, key, value)
        # The flush gives up after `timeout`; the margin covers the wait in the queue.
        await asyncio.wait_for(asyncio.wrap_future(future), self.timeout * 2 + 1)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._send_batch(batch)

    def _send_batch(self, batch: list[_Pending]) -> None:
        try:
            if self._producer is None:
                self._producer = self._factory()
            for item in batch:
                self._producer.send(item.topic, partition=None, key=item.key, value=item.value)
            self._producer.flush(self.timeout)
        except Exception as exc:  # ProduceError, or a client error it did not wrap
            log.warning("http: could not write %d record(s): %s", len(batch), exc)
            self._discard_producer()
            for item in batch:
                item.done.set_exception(SendError(str(exc)))
            return
        for item in batch:
            item.done.set_result(None)

    def _discard_producer(self) -> None:
        # It may be unusable for good (a fatal idempotence error): close it aside.
        producer, self._producer = self._producer, None
        if producer is not None:
            threading.Thread(target=_close_quietly, args=(producer,), daemon=True).start()

    def close(self) -> None:
        """Send what is queued, then close the producer."""
        self._closed = True
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=self.timeout + 5)
        producer, self._producer = self._producer, None
        if producer is not None:
            _close_quietly(producer)


def _close_quietly(producer: Producer) -> None:
    try:
        producer.close()
    except Exception as exc:
        log.warning("closing the HTTP producer: %s", exc)


class Webhook:
    """One input message (docs/formats.md) per request, produced unchanged to the alerts
    topic, so it takes the same path as a message written to Kafka (decode, route, correlate).

    * The body is checked with `correlator.wire.decode.decode` first: a message that cannot be
      read is refused with 400 and the DecodeError's code and reason; nothing is written (the
      dead-letter topic stays the path for Kafka input, whose sender is not there to answer).
    * 200 only once the record is acknowledged (acks=all): a produce that fails or is not
      acknowledged within `http_produce_timeout` answers 503, and Alertmanager retries.
      A timed-out record may still be delivered later; the retry then duplicates it, which the
      engine absorbs (the same alert again changes nothing).
    * Key: the webhook's `groupKey` (one Alertmanager group stays in order on one partition),
      else none.
    * `http_token` set: `Authorization: Bearer <token>` is required (401; checked by the app).
    """

    def __init__(
        self,
        producer_factory: Callable[[], Producer],
        topic: str,
        *,
        max_bytes: int,
        token: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.topic = topic
        self.max_bytes = max_bytes
        self.token = token
        self.timeout = timeout
        self.sender = AckedSender(producer_factory, timeout)

    @classmethod
    def from_config(cls, config: WorkerConfig, producer_factory: Callable[[], Producer]) -> Webhook:
        token = config.http_token.get_secret_value() if config.http_token else None
        return cls(
            producer_factory,
            config.alerts_topic,
            max_bytes=config.max_message_bytes,
            token=token,
            timeout=config.http_produce_timeout.total_seconds(),
        )

    async def accept(self, body: bytes) -> Reply:
        """Check, produce and wait for the acknowledgement of one message."""
        try:
            alerts = decode(body, received_at=datetime.now(UTC), max_bytes=self.max_bytes)
        except DecodeError as exc:
            log.info("webhook: refused a message: %s: %s", exc.code, exc.reason)
            return Reply(400, {"ok": False, "code": exc.code, "reason": exc.reason})
        parsed = orjson.loads(body)
        group_key = parsed.get("groupKey") if isinstance(parsed, dict) else None
        key = str(group_key).encode() if group_key is not None else None
        try:
            await self.sender.send(self.topic, key, body)
        except (SendError, TimeoutError) as exc:
            log.warning("webhook: could not write to %s: %s", self.topic, exc)
            reason = str(exc) or "not acknowledged in time"
            return Reply(503, {"ok": False, "reason": f"not written to Kafka: {reason}"})
        return Reply(200, {"ok": True, "alerts": len(alerts)})

    def close(self) -> None:
        self.sender.close()
