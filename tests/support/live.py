"""Running real workers against a real broker: in a thread, or as a `correlator run` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import yaml

from correlator.core.model import IncidentRecord
from correlator.demo.broker import free_port
from correlator.replay import final_states
from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.tools import TopicTail, produce
from correlator.worker.loop import Worker
from correlator.worker.ports import Message
from correlator.worker.service import serve
from tests.support.scenario import SCENARIO_BOUNDS, TEST_MAX_MESSAGE_BYTES, stamped

REPO = Path(__file__).resolve().parents[2]


def worker_settings(bootstrap: str, names: Any, topology: Path, **overrides: Any) -> dict[str, Any]:
    """A worker configuration (as the YAML file holds it) tuned for fast tests."""
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": names.group_id,
        "alerts_topic": names.alerts,
        "incidents_topic": names.incidents,
        "dlq_topic": names.dlq,
        "topology": str(topology),
        "http_host": "127.0.0.1",
        "http_port": free_port(),
        "partitions": {"alerts": 1, "repartition": 6, "incidents": 2, "dlq": 1},
        "max_message_bytes": TEST_MAX_MESSAGE_BYTES,
        # No idle ticks unless a test asks: results then depend on event time only.
        "tick_interval": "1h",
        "topology_poll_interval": "1s",
        # The scenarios' times are fixed (from 2026-11-22) and the longer ones may run ahead
        # of the wall clock: hold them to no `max_future` (tests/reliability sets its own).
        "engine": {"bounds": SCENARIO_BOUNDS},
        "kafka": {
            # Seconds, not minutes: a killed worker's partitions move after 6 s.
            "session_timeout_ms": 6000,
            "heartbeat_interval_ms": 1000,
            "max_poll_interval_ms": 30000,
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    return settings


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class WorkerProcess:
    """`python -m correlator.cli run --config FILE` with its log in a file."""

    def __init__(self, settings: dict[str, Any], directory: Path, name: str = "worker") -> None:
        self.settings = settings
        self.port = int(settings["http_port"])
        self.config_path = directory / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(settings))
        self.log_path = directory / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, env: dict[str, str] | None = None) -> WorkerProcess:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CORRELATOR_")}
        environ["PYTHONPATH"] = str(REPO)
        environ.update(env or {})
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "correlator.cli", "run", "--config", str(self.config_path)],
                cwd=REPO,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def ready(self) -> bool:
        return http_get(self.port, "/readyz")[0] == 200

    def wait_ready(self, timeout: float = 40) -> WorkerProcess:
        def check() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log()}")
            return self.ready()

        wait_for(check, timeout, "worker readiness")
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def hangup(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

        code, body = http_get(self.port, "/metrics")
        if code != 200:
            return None
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in (labels or {}).items()
                ):
                    return float(sample.value)
        return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class WorkerThread:
    """`serve()` in a thread of this process (faster to start than a process)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.config = WorkerConfig.model_validate(settings)
        self.port = self.config.http_port
        self._workers: list[Worker] = []
        self.exit_code: int | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self.exit_code = serve(
            self.config, install_signals=False, worker_ready=self._workers.append
        )

    def start(self) -> WorkerThread:
        self._thread.start()
        return self

    @property
    def worker(self) -> Worker:
        assert self._workers, "not started"
        return self._workers[0]

    def wait_ready(self, timeout: float = 40) -> WorkerThread:
        wait_for(lambda: bool(self._workers) and self.worker.health.ready().ok, timeout, "ready")
        return self

    def stop(self, timeout: float = 30) -> int | None:
        if self._workers:
            self.worker.stop()
        self._thread.join(timeout)
        return self.exit_code


def produce_lines(bootstrap: str, topic: str, lines: Sequence[bytes]) -> None:
    """Produce with replay's receive times as Kafka timestamps (see `stamped`)."""
    produce(bootstrap, topic, ((None, raw, ts) for raw, ts in stamped(lines)))


class Collector:
    """Reads a topic from its start in a background thread."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.messages: list[Message] = []
        self._stop = threading.Event()
        self._tail = TopicTail(bootstrap, topic)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._tail.poll(0.2)
            with self._lock:
                self.messages.extend(batch)

    def snapshot(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def records(self) -> list[IncidentRecord]:
        return [
            IncidentRecord.model_validate(orjson.loads(m.value))
            for m in self.snapshot()
            if m.value is not None
        ]

    def final(self) -> dict[str, IncidentRecord]:
        return final_states(self.records())

    def wait_final(
        self, want: dict[str, IncidentRecord], timeout: float
    ) -> dict[str, IncidentRecord]:
        """Wait until every wanted incident reached its final version."""
        wanted = {(i, r.version) for i, r in want.items()}

        def done() -> bool:
            return {(i, r.version) for i, r in self.final().items()} >= wanted

        wait_for(done, timeout, "final incident versions", interval=0.2)
        return self.final()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._tail.close()
