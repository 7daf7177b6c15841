"""The worker's web service on one port: `/metrics`, `/livez`, `/readyz` (docs/worker.md, health),
`POST /webhook` (the HTTP input, docs/formats.md, inputs), and the desk API and page (docs/desk.md).

FastAPI on uvicorn (docs/desk.md says why): one event loop serves every connection, so 200
Alertmanager senders waiting for their acknowledgement hold 200 small coroutines, not 200
threads, and the desk API's models give the OpenAPI document at `/openapi.json`.

* `/livez`: 200 while the processing loop completed an iteration within the liveness timeout
  (restoring state counts), else 503: a stuck loop is restarted by Kubernetes.
* `/readyz`: 200 once the topology is loaded, the worker has joined its group, the state of
  every assigned partition is restored and (with a desk) the desk view caught up with the
  incidents topic, else 503. A worker with no partitions is ready: it is a hot standby.
* `/metrics`: Prometheus text format (OpenMetrics when the scraper asks for it).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import choose_encoder

from correlator import __version__
from correlator.desk.api import Desk, desk_router, token_ok
from correlator.desk.subscriptions import Subscription, encode_subscription
from correlator.worker.http_body import drain, read_limited
from correlator.worker.webhook import Reply, Webhook

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook"
_PATHS = frozenset({"/", "/metrics", "/livez", "/healthz", "/readyz", WEBHOOK_PATH})
_PREFIXES = (
    ("/api/v1/incidents/", "/api/v1/incidents/{id}"),
    ("/api/v1/callers/", "/api/v1/callers/{who}"),
    ("/api/v1/", "/api/v1"),
    ("/page/", "/page"),
)

_REQUEST_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = (
    weakref.WeakKeyDictionary()
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _requests_counter(registry: CollectorRegistry) -> Counter:
    """`correlator_http_requests_total{path,code}`, once per registry."""
    counter = _REQUEST_COUNTERS.get(registry)
    if counter is None:
        counter = _REQUEST_COUNTERS[registry] = Counter(
            "correlator_http_requests",
            "HTTP requests answered, by path (known paths and API route shapes, else 'other') "
            "and status code.",
            ["path", "code"],
            registry=registry,
        )
    return counter


def path_label(path: str) -> str:
    """A bounded label: ids in paths must not make one series per incident or caller."""
    if path in _PATHS or path in ("/api/v1/incidents", "/openapi.json"):
        return path
    for prefix, label in _PREFIXES:
        if path.startswith(prefix):
            return label
    return "other"


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
        self.view_ready: Callable[[], bool] | None = None
        """Set when a desk view is served: not ready until it caught up."""
        self.broker_timeout = 30.0
        """Seconds the broker may be unreachable before /readyz fails (`topics.BrokerWatch`)."""
        self.broker_unreachable_for = 0.0
        """Seconds the broker has been unreachable, as of the loop's last iteration."""

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def live(self) -> _Status:
        age = time.monotonic() - self.heartbeat
        return _Status(
            ok=age <= self.liveness_timeout,
            detail={"loop_heartbeat_age_seconds": round(age, 3), "limit": self.liveness_timeout},
        )

    def broker_reachable(self) -> bool:
        """False once the broker has been unreachable for more than `broker_timeout`: a short
        blip (a broker restart, a leader move) does not take the worker out of rotation."""
        return self.broker_unreachable_for <= self.broker_timeout

    def ready(self) -> _Status:
        """Ready: this worker does its share of the work right now. The topology is loaded,
        it joined the group, the state of its partitions is restored, it is not stopping, the
        broker has been reachable within `broker_timeout`, and (when served) the desk view
        caught up. A worker that is not ready still runs: it is only reported, for alerting
        and for load balancers in front of `POST /webhook`."""
        checks = {
            "topology_loaded": self.topology_loaded,
            "group_joined": self.joined,
            "state_restored": not self.restoring,
            "not_stopping": not self.stopping,
            "broker_reachable": self.broker_reachable(),
        }
        if self.view_ready is not None:
            checks["desk_view_caught_up"] = self.view_ready()
        detail: dict[str, Any] = {"checks": checks, "assigned_partitions": self.assigned}
        if self.restoring:
            detail["restoring_partitions"] = sorted(self.restoring)
        if self.broker_unreachable_for:
            detail["broker_unreachable_seconds"] = round(self.broker_unreachable_for, 1)
        return _Status(ok=all(checks.values()), detail=detail)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one worker's web service accepts at most: each bound keeps a flood from taking
    memory or file descriptors the processing loop needs."""

    limit_concurrency: int = 1000
    """Connections plus requests in progress; beyond it uvicorn answers 503 at once. Well
    above the 200 concurrent Alertmanager senders it is sized for."""
    timeout_keep_alive: int = 15
    """An idle kept-alive connection is closed after this many seconds; Alertmanager reuses
    connections, and 15 s spans its typical group_interval bursts without hoarding sockets."""
    h11_max_incomplete_event_size: int = 64 * 1024
    """Request line plus headers at most: no legitimate sender needs more."""
    backlog: int = 2048
    """Connections the kernel queues before uvicorn accepts them (a burst of senders)."""
    timeout_graceful_shutdown: int = 5
    """On close, requests in progress get this long to finish."""


class _WebhookSlot:
    """`POST /webhook` answers 503 until the worker opens it (once its topics exist)."""

    webhook: Webhook | None = None


class _CountRequests:
    """Counts every answer by path shape and status code (pure ASGI: sees uvicorn-level
    answers of the app, including FastAPI's 404/405/422)."""

    def __init__(self, app: ASGIApp, counter: Counter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        label = path_label(scope.get("path", ""))

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.counter.labels(label, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counted)


def _json(body: dict[str, Any], code: int, headers: dict[str, str] | None = None) -> Response:
    sent = {"Cache-Control": "no-store", **(headers or {})}
    return Response(orjson.dumps(body) + b"\n", code, sent, "application/json")


def build_app(
    registry: CollectorRegistry,
    health: Health,
    *,
    desk: Desk | None = None,
    webhook: _WebhookSlot | None = None,
) -> FastAPI:
    """The whole web service as one ASGI app (usable with any ASGI server or test client)."""
    slot = webhook or _WebhookSlot()
    app = FastAPI(
        title="correlator",
        version=__version__,
        description="Incident correlation worker: health, metrics, the HTTP input and the "
        "service desk API (docs/worker.md, docs/desk.md).",
        docs_url=None,
        redoc_url=None,
    )
    app.state.webhook_slot = slot

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), 200, {"Cache-Control": "no-store"}, content_type)

    def status(s: _Status) -> Response:
        return _json({"ok": s.ok, **s.detail}, 200 if s.ok else 503)

    @app.get("/livez", include_in_schema=False)
    @app.get("/healthz", include_in_schema=False)
    async def livez() -> Response:
        return status(health.live())

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        return status(health.ready())

    @app.post(WEBHOOK_PATH, summary="The HTTP input: one Alertmanager/PagerDuty/native message")
    async def webhook_in(request: Request) -> Response:
        hook = slot.webhook
        if hook is None:
            return _json({"ok": False, "reason": "starting: input not open yet"}, 503)
        if not token_ok(request.headers.get("authorization"), hook.token):
            refused = Reply(
                401,
                {"ok": False, "reason": "missing or wrong bearer token"},
                (("WWW-Authenticate", 'Bearer realm="correlator"'),),
            )
            return await _refuse(request, refused)
        body = await read_limited(request, hook.max_bytes)
        if isinstance(body, Reply):
            return _reply(body)
        return _reply(await hook.accept(body))

    if desk is not None:
        health.view_ready = lambda: desk.view.ready
        app.include_router(desk_router(desk))
    else:

        @app.get("/", include_in_schema=False)
        async def index() -> Response:
            body = b"correlator: /metrics /livez /readyz, POST /webhook\n"
            return Response(body, 200, media_type="text/plain; charset=utf-8")

    counted = _CountRequests(app, _requests_counter(registry))
    app.state.counted = counted
    return app


async def _refuse(request: Request, reply: Reply) -> Response:
    """Answer without using the body, after reading and dropping it (bounded): closing a
    connection with unread input resets it, and the client could lose the answer."""
    closing = await drain(request)
    return _reply(reply, close=closing)


def _reply(reply: Reply, *, close: bool = False) -> Response:
    headers = dict(reply.headers)
    if close:
        headers["Connection"] = "close"
    return _json(reply.body, reply.code, headers)


def _bind(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # A restarted worker must be able to bind again at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class HttpService:
    """Serves `build_app` with uvicorn on a daemon thread until `close()`. Binds in the
    constructor (raises OSError when the port is taken), so port 0 gives `.port` at once."""

    def __init__(
        self,
        registry: CollectorRegistry,
        health: Health,
        host: str,
        port: int,
        *,
        desk: Desk | None = None,
        subscriptions_topic: str | None = None,
        limits: HttpLimits = HttpLimits(),
    ) -> None:
        self._slot = _WebhookSlot()
        self._desk = desk
        self._subscriptions_topic = subscriptions_topic
        app = build_app(registry, health, desk=desk, webhook=self._slot)
        self._socket = _bind(host, port, limits.backlog)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app.state.counted,
            http="h11",
            loop="asyncio",
            lifespan="off",
            log_level="warning",
            access_log=False,
            limit_concurrency=limits.limit_concurrency,
            timeout_keep_alive=limits.timeout_keep_alive,
            h11_max_incomplete_event_size=limits.h11_max_incomplete_event_size,
            backlog=limits.backlog,
            timeout_graceful_shutdown=limits.timeout_graceful_shutdown,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="correlator-http",
            daemon=True,
        )

    def start(self) -> HttpService:
        self._thread.start()
        return self

    def open_webhook(self, webhook: Webhook) -> None:
        """Open the HTTP input and, with a desk and a subscriptions topic, subscriptions:
        both go through the webhook's acknowledged sender (one producer for the HTTP side)."""
        self._slot.webhook = webhook
        topic = self._subscriptions_topic
        if self._desk is None or topic is None:
            return
        sender = webhook.sender

        async def subscribe(subscription: Subscription) -> None:
            key, value = encode_subscription(subscription)
            await sender.send(topic, key, value)

        self._desk.subscribe = subscribe

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self._socket.close()
        webhook, self._slot.webhook = self._slot.webhook, None
        if webhook is not None:
            webhook.close()  # sends what is queued first


#: The name the worker has always used; same constructor and methods.
HealthServer = HttpService

__all__ = ["Health", "HealthServer", "HttpLimits", "HttpService", "Webhook", "build_app"]
