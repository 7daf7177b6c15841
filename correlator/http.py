"""`/metrics`, `/livez` and `/readyz` on one port (CONTRACT §5), from a daemon thread.

* `/livez`: 200 while the processing loop completed an iteration within the liveness timeout
  (restoring state counts), else 503: a stuck loop is restarted by Kubernetes.
* `/readyz`: 200 once the topology is loaded, the worker has joined its group and the state of
  every assigned partition is restored, else 503. A worker with no partitions (more workers
  than partitions) is ready: it is a hot standby, and failing it would block rolling updates.
* `/metrics`: Prometheus text format (OpenMetrics when the scraper asks for it).

The bodies are small JSON documents saying why, for a human with curl.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger(__name__)


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


class _Handler(BaseHTTPRequestHandler):
    server: _Server

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
            self._send(200, b"correlator: /metrics /livez /readyz\n", "text/plain; charset=utf-8")
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _status(self, status: _Status) -> None:
        body = orjson.dumps({"ok": status.ok, **status.detail}) + b"\n"
        self._send(200 if status.ok else 503, body, "application/json")

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
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
        super().__init__(address, _Handler)


class HealthServer:
    """Serves the three endpoints until `close()`. Port 0 picks a free port (`.port`)."""

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

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
