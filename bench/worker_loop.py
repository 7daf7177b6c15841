"""The worker's own CPU per event, without a Kafka client: the loop on the in-memory broker.

    .venv/bin/python bench/worker_loop.py [--events 6000] [--repeat 3] [--gc 700,10000,50000]
                                          [--mix new|soak] [--profile]

The worker (`correlator.worker.loop.Worker`) runs step by step against the in-memory broker the
unit tests use, so what is measured is the worker's own work per event: decode, route, the
repartition record, the engine, the incident record and its JSON, the changelog records and
the commit bookkeeping; no network, no client library, no broker. Input: the same Alertmanager
webhook bodies as `kafka_e2e.py` (one firing alert each, unmapped, each opening its own
incident: the worst case per event; `--mix new`), or the soak's mix (`--mix soak`, as
`soak.py` sends: a population of 3,000 alerts, each fires, is re-sent 5 times unchanged, then
resolves and is replaced), 500 warm-up events first (not measured).

Each setting runs in a fresh subprocess, the settings alternating `--repeat` times, so that a
busy machine slows all of them alike; reported per setting: CPU microseconds per event
(`time.process_time` over the measured events: the median and the best of the repeats), the
CPU the garbage collector took (`gc.callbacks`) and how many collections of each generation
ran. The setting compared is the young-generation threshold the worker sets at start
(`gc_young_threshold`; 700 is Python's default).

`--profile` adds one more run of the threshold the worker uses by default, sampled by py-spy
(`pip install py-spy`; 250 samples/s), and reports the share of the loop's samples spent in
each stage (a sample counts for every stage on its stack, so the stages overlap where one
calls another: `engine` includes `record` and `assess`).

Writes bench/results/worker_loop.json (`--mix soak`: worker_loop-soak.json).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import machine, table, write_result  # noqa: E402
from kafka_e2e import alert_message  # noqa: E402
from soak import resolved_message  # noqa: E402

from correlator.worker.config import PartitionSettings, WorkerConfig  # noqa: E402
from correlator.worker.loop import Worker  # noqa: E402
from correlator.worker.metrics import Metrics  # noqa: E402
from tests.support.memory_broker import MemoryBroker, MemoryClients  # noqa: E402
from tests.support.scenario import write_org  # noqa: E402

SOAK_POPULATION = 3000

#: Stages of the loop, by a function on the sampled stack (py-spy names them `Qualname (file)`).
STAGES: dict[str, str] = {
    "decode (stage 1: webhook JSON -> alerts, route, repartition record)": "Decode.__call__ ",
    "engine (`ingest_many`: apply, group, assess, publish)": "Correlator.ingest_many ",
    "  record (build the incident record)": "build_record ",
    "  assess (root cause, impact, priority)": "run (correlator/core/assess.py",
    "repartition record read (stage 2)": "decode_record (repartition.py",
    "publish (record JSON, outputs, produce)": "Publisher.publish ",
    "changelog (state changes, encode, produce)": "Checkpointer.finish ",
    "produce into the client (all topics)": "Output.send ",
}


def stage_shares(raw: Path) -> dict[str, float]:
    """Share of the samples inside `Worker.run_once` that have each stage on their stack."""
    loop = 0
    counts = dict.fromkeys(STAGES, 0)
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if "Worker.run_once " not in stack:
            continue
        loop += int(n)
        for stage, marker in STAGES.items():
            if marker in stack:
                counts[stage] += int(n)
    return {stage: round(c / loop, 3) if loop else 0.0 for stage, c in counts.items()}


def profile(events: int, threshold: int, mix: str) -> dict[str, Any]:
    spy = Path(sys.executable).with_name("py-spy")
    raw = Path(tempfile.mkdtemp(prefix="bench-worker-loop-")) / "profile.txt"
    child = [sys.executable, __file__, "--mix", mix, "--child", str(events), str(threshold)]
    subprocess.run(
        [str(spy), "record", "-r", "250", "-f", "raw", "-o", str(raw), "--", *child],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return {"gc_young_threshold": threshold, "stage_share_of_loop": stage_shares(raw)}


def bodies(mix: str, run: str, count: int, start: datetime) -> list[bytes]:
    if mix == "new":
        return [alert_message(run, i, start + timedelta(milliseconds=i))[1] for i in range(count)]
    out: list[bytes] = []
    slots: list[tuple[bytes | None, int, int]] = [(None, 0, 0)] * SOAK_POPULATION
    for i in range(count):
        slot = i % SOAK_POPULATION
        body, sends, generation = slots[slot]
        at = start + timedelta(milliseconds=i)
        if body is None:
            body = alert_message(run, generation * SOAK_POPULATION + slot, at)[1]
            slots[slot] = (body, 0, generation)
            out.append(body)
        elif sends >= 5:
            out.append(resolved_message(body, at))
            slots[slot] = (None, 0, generation + 1)
        else:
            out.append(body)
            slots[slot] = (body, sends + 1, generation)
    return out


def _measure(events: int, threshold: int, mix: str) -> dict[str, Any]:
    """One run in this process: the worker on the in-memory broker."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-worker-loop-"))
    config = WorkerConfig(
        group_id="bench",
        topology=str(write_org(tmp)),
        partitions=PartitionSettings(alerts=1, repartition=12, incidents=6, dlq=1),
        max_poll_records=2000,
        gc_young_threshold=threshold,
    )
    broker = MemoryBroker()
    worker = Worker(config, MemoryClients(broker, config.group_id), metrics=Metrics())
    worker.start()
    broker.create_topic(config.alerts_topic, 1)
    now = datetime.now(UTC)

    def feed(run: str, count: int) -> None:
        for body in bodies(mix, run, count, now):
            broker.append(config.alerts_topic, 0, None, body, timestamp_ms=int(time.time() * 1e3))

    def drain() -> None:
        consumer = worker.consumer
        for _ in range(100_000):
            worker.run_once()
            if all(end is None or pos >= end for pos, end in consumer.positions().values()):
                worker.run_once()
                return
        raise RuntimeError("the worker did not catch up")

    feed("ffff", 500)
    drain()
    spent = [0.0, 0.0]
    counts = [0, 0, 0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            spent[1] = time.process_time()
        else:
            spent[0] += time.process_time() - spent[1]
            counts[info["generation"]] += 1

    feed("abcd", events)
    gc.callbacks.append(on_gc)
    cpu0 = time.process_time()
    drain()
    cpu = time.process_time() - cpu0
    gc.callbacks.remove(on_gc)
    published = len(broker.records(config.incidents_topic))
    if mix == "new" and published < events:
        raise RuntimeError(f"{published} incident records for {events} events")
    return {
        "incident_records": published,
        "cpu_us_per_event": round(cpu / events * 1e6, 1),
        "gc_cpu_us_per_event": round(spent[0] / events * 1e6, 1),
        "gc_share": round(spent[0] / cpu, 3),
        "collections": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gc", default="700,10000,50000", help="young-generation thresholds")
    parser.add_argument("--mix", choices=("new", "soak"), default="new")
    parser.add_argument("--profile", action="store_true", help="add a py-spy stage breakdown")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.stdout.buffer.write(orjson.dumps(_measure(*args.child, args.mix)))
        return
    thresholds = [int(t) for t in args.gc.split(",")]
    runs: dict[int, list[dict[str, Any]]] = {t: [] for t in thresholds}
    for _ in range(args.repeat):
        for threshold in thresholds:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--mix",
                    args.mix,
                    "--child",
                    str(args.events),
                    str(threshold),
                ],
                check=True,
                capture_output=True,
                cwd=ROOT,
            ).stdout
            runs[threshold].append(orjson.loads(out))
    summary = {}
    for threshold, results in runs.items():
        cpu = [r["cpu_us_per_event"] for r in results]
        gc_cpu = [r["gc_cpu_us_per_event"] for r in results]
        summary[str(threshold)] = {
            "cpu_us_per_event_median": statistics.median(cpu),
            "cpu_us_per_event_best": min(cpu),
            "gc_cpu_us_per_event_median": statistics.median(gc_cpu),
            "gc_share_median": statistics.median(r["gc_share"] for r in results),
            "collections": results[0]["collections"],
            "runs": results,
        }
    result = {
        "benchmark": "worker_loop",
        "machine": machine(),
        "settings": {
            "events": args.events,
            "repeat": args.repeat,
            "warm_up_events": 500,
            "broker": "in memory (tests/support/memory_broker.py): no Kafka client",
            "partitions": {"alerts": 1, "repartition": 12, "incidents": 6},
            "mix": args.mix,
            "message": "Alertmanager webhook JSON, one alert each, unmapped (its own incident)",
            "compared": "gc_young_threshold (700 = Python's default)",
        },
        "by_gc_young_threshold": summary,
    }
    if args.profile:
        default = WorkerConfig.model_fields["gc_young_threshold"].default
        result["profile"] = profile(args.events, default, args.mix)
        for stage, share in result["profile"]["stage_share_of_loop"].items():
            print(f"{share:6.1%}  {stage}")
    rows = [
        [
            t,
            s["cpu_us_per_event_median"],
            s["cpu_us_per_event_best"],
            s["gc_cpu_us_per_event_median"],
            f"{s['gc_share_median']:.0%}",
            "/".join(str(c) for c in s["collections"]),
        ]
        for t, s in summary.items()
    ]
    header = ["gc threshold", "CPU µs/event", "best", "GC µs/event", "GC share", "collections"]
    print(table(rows, header))
    name = "worker_loop" if args.mix == "new" else f"worker_loop-{args.mix}"
    print(f"wrote {write_result(name, result)}")


if __name__ == "__main__":
    main()
