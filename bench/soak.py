"""Soak: one `correlator run` worker on a real broker at a steady alert rate for minutes,
measuring whether its memory stays flat after warm-up (RELIABILITY.md).

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 2000] [--warmup 3]
                                   [--population 20000] [--bootstrap HOST:PORT]

* Broker and worker as in `kafka_e2e.py` (Tansu in memory, the worker a subprocess pinned to
  the last core), the same worker settings, plus short lifecycle windows (hold-down 30 s,
  reopen window 60 s, tombstones kept 5 minutes) and idle ticks every second, so resolved
  incidents are forgotten within ~2 minutes, their tombstones 5 minutes later, and a steady
  state exists inside a 10-minute warm-up (with the defaults, 5 + 30 minutes of event time pass
  before an incident is forgotten, and its tombstone stays 24 hours, up to 100,000 per engine:
  at 2,000 alerts/s the 12 engines' tombstones would fill for an hour).
* Stream: Alertmanager webhook bodies at `--rate` messages/s, each one alert. A population of
  `--population` alerts turns over: each alert fires, is re-sent every ~`population / rate`
  seconds, and after ~5 re-sends resolves and is replaced by a new fingerprint. So the worker
  sees new alerts, re-sends and resolves forever, at a constant number of live alerts; every
  alert is unmapped (its own incident): the engine's worst case per alert.
* Memory: the worker's RSS (/proc/<pid>/status VmRSS) every 5 s; its lag (from /metrics)
  every 15 s, the scrape interval of deploy/prometheus. Reported: RSS at the end of
  warm-up, at the end, the peak, and the least-squares slope after warm-up in MB per minute;
  also the worker's lag at the end (alerts produced and not yet decoded) so a run the worker
  could not keep up with is visible, not hidden.

* What the engines hold (`correlator_engine_held`: alerts, incidents, tombstones, timers) with
  each lag sample, so RSS growth can be set against the bounded structures still filling.
* Heap: the worker runs under `heap_probe.py`, which is signalled at the end of warm-up and at
  the end of the run and records glibc's heap totals and the RSS each time. With `--heap` it
  also runs tracemalloc and the result lists the source lines whose live memory grew most
  between the two (tracemalloc roughly halves the worker's speed: use a lower `--rate`).

Writes bench/results/soak.json (or soak-<minutes>m.json when shorter than 10 minutes; `--name`
chooses another name).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, table, write_result
from heap_probe import compare
from kafka_e2e import (
    PRODUCER_CONFIG,
    Names,
    WorkerProcess,
    alert_message,
    broker,
    http_get,
    split_cpus,
    worker_config,
)

from correlator.core.model import rfc3339

RULES = "lifecycle:\n  hold_down: 30s\n  reopen_window: 60s\n  tombstone_ttl: 5m\n"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def labelled(worker: WorkerProcess, name: str, label: str, where: str = "") -> dict[str, float]:
    """One metric's samples by one label (the bench's metrics() folds labels); `where`: the
    labels before it, as written (`kind="young",`)."""
    code, body = http_get(worker.port, "/metrics")
    out: dict[str, float] = {}
    if code != 200:
        return out
    for line in body.decode().splitlines():
        if line.startswith(f"{name}{{{where}") and (found := re.search(f'{label}="([^"]*)"', line)):
            out[found.group(1)] = float(line.rpartition(" ")[2])
    return out


def held(worker: WorkerProcess) -> dict[str, int]:
    """`correlator_engine_held` by kind."""
    return {k: int(v) for k, v in labelled(worker, "correlator_engine_held", "kind").items()}


def heap_snapshot(worker: WorkerProcess, out: Path, n: int) -> dict[str, Any]:
    """Signal the probe and wait for its JSON (a tracemalloc snapshot takes seconds; the probe
    renames the JSON into place once it is whole, after the pickle)."""
    os.kill(worker.pid, signal.SIGUSR2)
    path = out / f"heap-{n}.json"
    deadline = time.monotonic() + 300
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    return dict(orjson.loads(path.read_bytes())) if path.exists() else {}


def consumed(metrics: dict[str, float]) -> int:
    """Alerts the worker has read from the alerts topic (its own counter, by source)."""
    return int(
        sum(v for k, v in metrics.items() if k.startswith("correlator_events_consumed_total"))
    )


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) in MB per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    cov = sum((x - mx) * (y - my) for x, y in points)
    return cov / var * 60 if var else 0.0


def resolved_message(fp_body: bytes, ends: datetime) -> bytes:
    body = orjson.loads(fp_body)
    alert = body["alerts"][0]
    alert["status"] = body["status"] = "resolved"
    alert["endsAt"] = rfc3339(ends)
    return orjson.dumps(body)


def stream(
    producer: Producer, topic: str, rate: int, seconds: float, population: int, sent: list[int]
) -> None:
    """Paced by the wall clock; slot i of the population cycles fire, re-send x5, resolve."""
    run = f"s{int(time.time()) % 100000}"
    generation = [0] * population
    sends = [0] * population
    bodies: list[bytes | None] = [None] * population
    start = time.perf_counter()
    i = 0
    while True:
        now = time.perf_counter()
        if now - start >= seconds:
            break
        due = int((now - start) * rate)
        while i < due:
            slot = i % population
            wall = datetime.now(UTC)
            if bodies[slot] is None:
                _, bodies[slot] = alert_message(run, generation[slot] * population + slot, wall)
                body = bodies[slot]
            elif sends[slot] >= 5:
                body = resolved_message(bodies[slot] or b"", wall)
                bodies[slot] = None
                sends[slot] = 0
                generation[slot] += 1
            else:
                body = bodies[slot]
                sends[slot] += 1
            while True:
                try:
                    producer.produce(topic, body)
                    break
                except BufferError:
                    producer.poll(0.01)
            i += 1
            if i % 1000 == 0:
                producer.poll(0)
        sent[0] = i
        time.sleep(0.005)
    producer.flush(60)
    sent[0] = i


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0, help="minutes before measuring")
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--population", type=int, default=20_000)
    parser.add_argument("--bootstrap")
    parser.add_argument(
        "--client",
        choices=("kafka-python", "confluent"),
        default="kafka-python",
        help="the worker's Kafka client (docs/worker.md, `client`)",
    )
    parser.add_argument(
        "--fetch-wait-ms",
        type=int,
        help="the worker's kafka.fetch_max_wait_ms (default: kafka_e2e.py's 10 ms); the "
        "confluent consumer cannot lengthen it while running (RELIABILITY.md, the soak stall)",
    )
    parser.add_argument(
        "--heap",
        action="store_true",
        help="run tracemalloc in the worker and list what grew after warm-up (slows it ~2x)",
    )
    parser.add_argument("--name", help="result file name (default soak, or soak-<minutes>m)")
    args = parser.parse_args()
    worker_cpus, other_cpus = split_cpus(True)
    seconds = args.minutes * 60
    warm = args.warmup * 60
    samples: list[tuple[float, float]] = []
    lags: list[tuple[float, int]] = []
    holds: list[tuple[float, dict[str, int]]] = []
    heaps: list[dict[str, Any]] = []
    with broker(args.bootstrap, other_cpus) as (bootstrap, broker_desc, _):
        names = Names.fresh("soak")
        rules = Path(f"/tmp/soak-rules-{names.prefix}.yaml")
        rules.write_text(RULES)
        settings = worker_config(
            bootstrap, names, rules=str(rules), tick_interval="1s", client=args.client
        )
        if args.fetch_wait_ms is not None:
            settings["kafka"] = {**settings["kafka"], "fetch_max_wait_ms": args.fetch_wait_ms}
        heap_dir = Path(f"/tmp/soak-heap-{names.prefix}")
        probe = [str(Path(__file__).resolve().parent / "heap_probe.py"), str(heap_dir)]
        probe += [] if args.heap else ["--no-trace"]
        worker = WorkerProcess(settings, "soak", worker_cpus, launcher=[*probe, "--"]).start()
        ready = worker.wait_ready()
        producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG})
        sent = [0]
        thread = threading.Thread(
            target=stream,
            args=(producer, names.alerts, args.rate, seconds, args.population, sent),
            daemon=True,
        )
        began = time.perf_counter()
        thread.start()
        while thread.is_alive():
            at = time.perf_counter() - began
            samples.append((at, rss_mb(worker.pid)))
            # /metrics every 15 s, as deploy/prometheus scrapes it: a scrape walks the desk
            # view's open incidents, so scraping more often than a deployment would is load
            # that a deployment does not have.
            if len(samples) % 3 == 1 and (scraped := worker.metrics()):
                # A scrape that failed (the bench's 2 s timeout) is left out, not read as 0.
                lags.append((at, sent[0] - consumed(scraped)))
                if kinds := held(worker):
                    holds.append((at, kinds))
            if not heaps and at >= warm:
                heaps.append({"at": round(at, 1), **heap_snapshot(worker, heap_dir, 1)})
            time.sleep(5)
        samples.append((time.perf_counter() - began, rss_mb(worker.pid)))
        at = time.perf_counter() - began
        heaps.append({"at": round(at, 1), **heap_snapshot(worker, heap_dir, len(heaps) + 1)})
        metrics = worker.metrics()
        freeze_buckets = labelled(
            worker, "correlator_gc_freeze_duration_seconds_bucket", "le", 'kind="young",'
        )
        alive = worker.proc is not None and worker.proc.poll() is None
        code = worker.stop()
    after = [p for p in samples if p[0] >= warm]
    grew = None
    first, last = heap_dir / "heap-1.pickle", heap_dir / f"heap-{len(heaps)}.pickle"
    if args.heap and len(heaps) == 2 and first.exists() and last.exists():
        grew = compare(first, last)
    decoded = consumed(metrics)
    result: dict[str, Any] = {
        "machine": machine(),
        "broker": broker_desc,
        "settings": {
            "minutes": args.minutes,
            "warmup_minutes": args.warmup,
            "rate": args.rate,
            "population": args.population,
            "rules": RULES,
            "worker": settings,
            "tracemalloc": args.heap,
        },
        "ready_seconds": round(ready, 2),
        "produced": sent[0],
        "produced_rate": round(sent[0] / seconds, 1),
        "worker_consumed": decoded,
        "lag_at_end": sent[0] - decoded,
        "worker_alive_at_end": alive,
        "worker_exit_code": code,
        "rss_mb": {
            "at_warmup_end": round(after[0][1], 1) if after else None,
            "at_end": round(samples[-1][1], 1),
            "peak": round(max(s[1] for s in samples), 1),
            "slope_after_warmup_mb_per_min": round(slope(after), 2),
        },
        "samples": [(round(t, 1), round(m, 1)) for t, m in samples],
        "lag_samples": [(round(t, 1), lag) for t, lag in lags],
        "max_lag_after_warmup": max((lag for t, lag in lags if t >= warm), default=None),
        "held_samples": [(round(t, 1), kinds) for t, kinds in holds],
        "heap": heaps,
        "gc_freeze": {
            "freezes": metrics.get("correlator_gc_freeze_duration_seconds_count"),
            "seconds": metrics.get("correlator_gc_freeze_duration_seconds_sum"),
            "at_most_seconds": freeze_buckets,
        },
        "heap_trim": {
            "trims": metrics.get("correlator_heap_trim_duration_seconds_count"),
            "seconds": metrics.get("correlator_heap_trim_duration_seconds_sum"),
            "released_mb": round(
                metrics.get("correlator_heap_trim_released_bytes_total", 0) / 2**20, 1
            ),
        },
        "grew_most_after_warmup": grew,
        "finished": datetime.now(UTC).isoformat(),
    }
    name = args.name or ("soak" if args.minutes >= 10 else f"soak-{args.minutes:g}m")
    path = write_result(name, result)
    rss = result["rss_mb"]
    print(
        table(
            [
                [
                    sent[0],
                    result["produced_rate"],
                    result["lag_at_end"],
                    rss["at_warmup_end"],
                    rss["at_end"],
                    rss["peak"],
                    rss["slope_after_warmup_mb_per_min"],
                    alive,
                ]
            ],
            [
                "produced",
                "rate/s",
                "lag",
                "RSS warm MB",
                "RSS end MB",
                "peak MB",
                "MB/min",
                "alive",
            ],
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
