"""`/metrics`, `/livez`, `/readyz` and `POST /webhook` on one port (CONTRACT §5), from a
daemon thread.

* `/livez`: 200 while the processing loop completed an iteration within the liveness timeout
  (restoring state counts), else 503: a stuck loop is restarted by Kubernetes.
* `/readyz`: 200 once the topology is loaded, the worker has joined its group and the state of
  every assigned partition is restored, else 503. A worker with no partitions (more workers
  than partitions) is ready: it is a hot standby, and failing it would block rolling updates.
* `/metrics`: Prometheus text format (OpenMetrics when the scraper asks for it).
* `POST /webhook`: the HTTP input (CONTRACT §2), for senders that cannot write to Kafka
  (Alertmanager's `webhook_configs`): see `Webhook`.

The bodies are small JSON documents saying why, for a human with curl.
"""

from __future__ import annotations

import hmac
import io
import logging
import socket
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message as HTTPHeaders
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import orjson
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import choose_encoder

from correlator.wire.decode import DecodeError, decode
from correlator.worker.ports import Producer

if TYPE_CHECKING:
    from correlator.worker.config import WorkerConfig

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook"
#: Paths counted under their own name in `correlator_http_requests_total`; others: "other".
_PATHS = frozenset({"/", "/metrics", "/livez", "/healthz", "/readyz", WEBHOOK_PATH})
#: A client that sends nothing for this long is disconnected (a slow body holds a thread).
SOCKET_TIMEOUT = 30.0
#: After answering without reading the body (401, 411, 413), read and drop at most this much
#: of it, for at most this long, before closing: closing with unread input resets the
#: connection, and the client could lose the answer.
LINGER_BYTES = 16 * 1024 * 1024
LINGER_SECONDS = 2.0

_REQUEST_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = (
    weakref.WeakKeyDictionary()
)


def _requests_counter(registry: CollectorRegistry) -> Counter:
    """`correlator_http_requests_total{path,code}`, once per registry."""
    counter = _REQUEST_COUNTERS.get(registry)
    if counter is None:
        counter = _REQUEST_COUNTERS[registry] = Counter(
            "correlator_http_requests",
            "HTTP requests answered, by path (known paths, else 'other') and status code.",
            ["path", "code"],
            registry=registry,
        )
    return counter


@dataclass(slots=True)
class _Status:
    ok: bool
    detail: dict[str, Any]


class Health:
    """Flags the loop sets and the HTTP thread reads (each write is one attribute store)."""

    def __init__(self, liveness_timeout: float = 60.0) -> None:
        self.liveness_timeout = liveness_timeout
        self.heartbeat = time.monotonic()
        self.topology_loaded = False
        self.joined = False
        self.restoring: frozenset[int] = frozenset()
        self.assigned = 0
        self.stopping = False
        self.started = time.monotonic()

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def live(self) -> _Status:
        age = time.monotonic() - self.heartbeat
        return _Status(
            ok=age <= self.liveness_timeout,
            detail={"loop_heartbeat_age_seconds": round(age, 3), "limit": self.liveness_timeout},
        )

    def ready(self) -> _Status:
        checks = {
            "topology_loaded": self.topology_loaded,
            "group_joined": self.joined,
            "state_restored": not self.restoring,
            "not_stopping": not self.stopping,
        }
        detail: dict[str, Any] = {"checks": checks, "assigned_partitions": self.assigned}
        if self.restoring:
            detail["restoring_partitions"] = sorted(self.restoring)
        return _Status(ok=all(checks.values()), detail=detail)


@dataclass(slots=True)
class _Reply:
    code: int
    body: dict[str, Any]
    read_body: bool = True
    """False: the request body was left unread (the connection is closed after a linger)."""
    headers: tuple[tuple[str, str], ...] = ()


class Webhook:
    """`POST /webhook`: one CONTRACT §2 message per request, produced unchanged to the alerts
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
    * `http_token` set: `Authorization: Bearer <token>` is required (401 otherwise).

    The producer is the HTTP thread's own (built by `producer_factory`, the worker's
    `Clients.producer`, on first use: same client library and settings as the loop's), never
    the loop's. Requests are served one at a time by a lock: the Producer port is not
    thread-safe (`flush` waits for the records *it* sent). A producer that failed is replaced.
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
        self._factory = producer_factory
        self.topic = topic
        self.max_bytes = max_bytes
        self._token = token.encode() if token else None
        self.timeout = timeout
        self._producer: Producer | None = None
        self._lock = threading.Lock()

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

    def handle(self, headers: HTTPHeaders, rfile: io.BufferedIOBase) -> _Reply:
        if self._token is not None:
            given = (headers.get("Authorization") or "").encode()
            if not hmac.compare_digest(given, b"Bearer " + self._token):
                reason = "missing or wrong bearer token"
                challenge = (("WWW-Authenticate", 'Bearer realm="correlator"'),)
                return _Reply(401, {"ok": False, "reason": reason}, False, challenge)
        if headers.get("Transfer-Encoding"):
            return _Reply(411, {"ok": False, "reason": "send Content-Length, not chunks"}, False)
        length_text = headers.get("Content-Length")
        if length_text is None:
            return _Reply(411, {"ok": False, "reason": "Content-Length is required"}, False)
        if not (length_text.strip().isascii() and length_text.strip().isdigit()):
            return _Reply(400, {"ok": False, "reason": "bad Content-Length"}, False)
        length = int(length_text)
        if length > self.max_bytes:
            reason = f"body is {length} bytes, over the {self.max_bytes} byte limit"
            return _Reply(413, {"ok": False, "code": "too_large", "reason": reason}, False)
        try:
            body = rfile.read(length)
        except OSError as exc:
            return _Reply(400, {"ok": False, "reason": f"reading the body: {exc}"}, False)
        if len(body) != length:
            return _Reply(400, {"ok": False, "reason": "body shorter than Content-Length"})
        return self.accept(body)

    def accept(self, body: bytes) -> _Reply:
        """Check, produce and flush one message (the body is read)."""
        try:
            alerts = decode(body, received_at=datetime.now(UTC), max_bytes=self.max_bytes)
        except DecodeError as exc:
            log.info("webhook: refused a message: %s: %s", exc.code, exc.reason)
            return _Reply(400, {"ok": False, "code": exc.code, "reason": exc.reason})
        group_key = orjson.loads(body).get("groupKey")
        key = str(group_key).encode() if group_key is not None else None
        if not self._lock.acquire(timeout=self.timeout):
            return _Reply(503, {"ok": False, "reason": "busy: an earlier request is still sending"})
        try:
            try:
                if self._producer is None:
                    self._producer = self._factory()
                self._producer.send(self.topic, partition=None, key=key, value=body)
                self._producer.flush(self.timeout)
            except Exception as exc:  # ProduceError, or a client error it did not wrap
                log.warning("webhook: could not write to %s: %s", self.topic, exc)
                self._discard_producer()
                return _Reply(503, {"ok": False, "reason": f"not written to Kafka: {exc}"})
        finally:
            self._lock.release()
        return _Reply(200, {"ok": True, "alerts": len(alerts)})

    def _discard_producer(self) -> None:
        """Drop a producer that failed (it may be unusable for good, e.g. a fatal idempotence
        error); close it in the background so the next request does not wait."""
        producer, self._producer = self._producer, None
        if producer is not None:
            threading.Thread(target=_close_quietly, args=(producer,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            _close_quietly(producer)


def _close_quietly(producer: Producer) -> None:
    try:
        producer.close()
    except Exception as exc:
        log.warning("closing the webhook producer: %s", exc)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = SOCKET_TIMEOUT

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            body = encoder(self.server.registry)
            self._send(200, body, content_type)
        elif path in ("/livez", "/healthz"):
            self._status(self.server.health.live())
        elif path == "/readyz":
            self._status(self.server.health.ready())
        elif path == "/":
            body = b"correlator: /metrics /livez /readyz, POST /webhook\n"
            self._send(200, body, "text/plain; charset=utf-8")
        elif path == WEBHOOK_PATH:
            self._send(405, b"POST only\n", "text/plain; charset=utf-8", (("Allow", "POST"),))
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        webhook = self.server.webhook
        if path != WEBHOOK_PATH:
            reply = _Reply(404, {"ok": False, "reason": "not found"}, False)
        elif webhook is None:
            reply = _Reply(503, {"ok": False, "reason": "starting: input not open yet"}, False)
        else:
            reply = webhook.handle(self.headers, self.rfile)
        body = orjson.dumps(reply.body) + b"\n"
        self._send(reply.code, body, "application/json", reply.headers)
        if not reply.read_body:
            self._linger()

    def _linger(self) -> None:
        """Answered without reading the body: read and drop what the client still sends
        (bounded), so that closing does not reset the connection under the answer."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            left = LINGER_BYTES
            while left > 0:
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def _status(self, status: _Status) -> None:
        body = orjson.dumps({"ok": status.ok, **status.detail}) + b"\n"
        self._send(200 if status.ok else 503, body, "application/json")

    def _send(
        self, code: int, body: bytes, content_type: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        path = self.path.split("?", 1)[0]
        self.server.requests.labels(path if path in _PATHS else "other", str(code)).inc()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A restarted worker must be able to bind again at once.
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], registry: CollectorRegistry, health: Health):
        self.registry = registry
        self.health = health
        self.requests = _requests_counter(registry)
        self.webhook: Webhook | None = None
        super().__init__(address, _Handler)


class HealthServer:
    """Serves the endpoints until `close()`. Port 0 picks a free port (`.port`). `POST
    /webhook` answers 503 until `open_webhook` (the worker opens it once its topics exist)."""

    def __init__(self, registry: CollectorRegistry, health: Health, host: str, port: int) -> None:
        self._server = _Server((host, port), registry, health)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="correlator-http",
            daemon=True,
        )

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def open_webhook(self, webhook: Webhook) -> None:
        self._server.webhook = webhook

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        webhook, self._server.webhook = self._server.webhook, None
        if webhook is not None:
            webhook.close()  # waits for a request still sending
