"""Small pieces for the tests that run the real monitoring tools: exporters Prometheus scrapes,
a daemon started from its binary, and a CloudEvents topic read the way a consumer reads it."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.formats.json import JSONFormat
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from correlator.demo.broker import free_port
from tests.support.live import http_get, wait_for


class Exporter:
    """A tiny exporter on a fixed loopback port, stopped and started again on that same port so
    Prometheus sees the target go down and come back."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.port = free_port()
        registry = CollectorRegistry()
        serving = Gauge("exporter_serving", "1 while it answers.", ["node"], registry=registry)
        serving.labels(node).set(1)
        # What it serves hardly matters: Prometheus's own `up` says whether the scrape worked.
        self._body = generate_latest(registry)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Exporter:
        body = self._body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # one line per scrape a second would drown the test's output

        # ThreadingHTTPServer sets SO_REUSEADDR, so a restart rebinds the port at once.
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


@contextmanager
def daemon(argv: Sequence[str], port: int, log_path: Path, what: str) -> Iterator[int]:
    """Run `argv` (logging to `log_path`) until its `/-/ready` answers 200 on `port`; stop it
    on exit. Prometheus and Alertmanager both serve `/-/ready`."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=log)
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{what} exited:\n{log_path.read_text()}")
            return http_get(port, "/-/ready")[0] == 200

        wait_for(up, 30, f"{what} ready")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class CloudEventsReader:
    """Every partition of a topic from its start with confluent-kafka (no consumer group to
    join), each message parsed by the CloudEvents SDK's Kafka binding."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from confluent_kafka import Consumer, TopicPartition  # noqa: PLC0415

        self.events: list[BaseCloudEvent] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"{topic}-reader",
                "enable.auto.commit": False,
            }
        )
        metadata = self._consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        assert partitions, f"topic {topic} has no partitions"
        self._consumer.assign([TopicPartition(topic, p, -2) for p in partitions])  # -2: start

    def poll(self) -> list[BaseCloudEvent]:
        """Read what arrived; return every event read so far, in arrival order."""
        for message in self._consumer.consume(num_messages=100, timeout=0.2):
            error = message.error()
            assert error is None or error.code() == -191, error  # -191: end of partition
            value = message.value()
            if error is not None or value is None:
                continue
            raw = message.headers() or []
            pairs = raw.items() if isinstance(raw, dict) else raw
            headers = {k: v.encode() if isinstance(v, str) else v or b"" for k, v in pairs}
            kafka_message = KafkaMessage(headers=headers, key=message.key(), value=value)
            self.events.append(from_kafka(kafka_message, JSONFormat()))
        return self.events

    def wait(
        self, predicate: Callable[[list[BaseCloudEvent]], bool], timeout: float, what: str
    ) -> list[BaseCloudEvent]:
        wait_for(lambda: predicate(self.poll()), timeout, what, interval=0.05)
        return self.events

    def close(self) -> None:
        self._consumer.close()
