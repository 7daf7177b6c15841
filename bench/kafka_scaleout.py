"""Kafka scale-out: one worker vs two in one consumer group, on the same backlog.

    .venv/bin/python bench/kafka_scaleout.py [--events N] [--bootstrap HOST:PORT]

For each configuration (1 worker, then 2), on fresh topics and a fresh group:

1. create the alerts topic (1 partition) and the incidents topic (6 partitions, compacted), and
   produce a backlog of N Alertmanager webhook messages (one alert each, as in kafka_e2e.py:
   distinct unmapped `service` labels, so each opens an incident of its own and the routing keys
   `unmapped:service=...` spread evenly over the 12 repartition partitions);
2. start the workers (`python -m correlator.cli run` subprocesses, same settings as
   kafka_e2e.py, unpinned) at the same moment;
3. time until all N incidents are on the incidents topic (a confluent-kafka consumer reads it).

Why unmapped alerts rather than topology domains: stage 1 routes mapped alerts by
`Topology.domain_of`. The bundled example organisation is one domain (one partition: no
scale-out at all), and `generate_topology(3700)` (10k nodes) has 18 domains of which one holds
60 % of the machine nodes (the script prints the split), so a stream over its nodes measures the
topology's skew, not the worker.

Throughput is reported three ways: N / (workers started -> last incident) (includes start-up
and the group join), N / (first -> last incident), and the steady rate between 10 % and 90 % of
the incidents. The machine has 2 cores shared by the workers, the broker and this script's
consumer: two workers cannot get two whole cores (CPU shares are in the result).

Writes bench/results/kafka_scaleout.json and prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo: tests.support
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, table, write_result
from kafka_e2e import (
    PRODUCER_CONFIG,
    WORKER_SETTINGS,
    IncidentWatch,
    Names,
    WorkerProcess,
    _self_cpu,
    alert_message,
    broker,
    build_stream,
    cpu_seconds,
    produce,
    worker_config,
)

from correlator.worker.routing import partition_for


def create_topics(bootstrap: str, names: Names) -> None:
    """The alerts and incidents topics, as the worker would create them (it leaves existing
    topics alone and creates the internal ones itself)."""
    parts = WORKER_SETTINGS["partitions"]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [
            NewTopic(names.alerts, parts["alerts"], 1, config={"cleanup.policy": "delete"}),
            NewTopic(
                names.incidents,
                parts["incidents"],
                1,
                config={"cleanup.policy": "compact", "max.message.bytes": str(8 * 1024 * 1024)},
            ),
        ]
    )
    for future in futures.values():
        future.result(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=5).topics
        if all(t in topics and topics[t].partitions for t in (names.alerts, names.incidents)):
            return
        time.sleep(0.1)
    raise RuntimeError("topics not visible after 30 s")


def domain_split() -> dict[str, Any]:
    """How the machine nodes of the generated 10k topology fall onto 12 partitions."""
    from tests.support.topology_generator import generate_topology  # noqa: PLC0415
    from topology import Topology  # noqa: PLC0415

    topo = Topology.from_document(generate_topology(3700, seed=1))
    kinds = {"host", "service", "database", "network", "link"}
    domains = Counter(topo.domain_of(n) for n, info in topo.nodes.items() if info.kind in kinds)
    parts: Counter[int] = Counter()
    for domain, count in domains.items():
        parts[partition_for(f"domain:{domain}", 12)] += count
    total = sum(parts.values())
    return {
        "topology": "generate_topology(3700, seed=1)",
        "nodes": len(topo.nodes),
        "machine_nodes": total,
        "domains": len(domains),
        "largest_domain_share": round(max(domains.values()) / total, 3),
        "machine_nodes_per_partition": dict(sorted(parts.items())),
    }


def run_config(
    bootstrap: str, workers: int, events: int, broker_pid: int | None, timeout: float
) -> dict[str, Any]:
    names = Names.fresh(f"scale{workers}")
    create_topics(bootstrap, names)
    run_id = f"{workers:04x}"
    index, bodies = build_stream(run_id, events, None)
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG})
    produce_s = produce(producer, names.alerts, bodies, None, [0.0] * events)
    watch = IncidentWatch(bootstrap, names.incidents, WORKER_SETTINGS["partitions"]["incidents"])
    watch.expect(index)
    procs = [
        WorkerProcess(worker_config(bootstrap, names), f"{names.prefix}-{k}", None)
        for k in range(workers)
    ]
    series: list[tuple[float, int]] = []
    try:
        cpu0 = [cpu_seconds(broker_pid), _self_cpu()]
        t0 = time.perf_counter()
        for proc in procs:
            proc.start()
        ready = [round(proc.wait_ready(), 2) for proc in procs]
        deadline = time.monotonic() + timeout
        while watch.count < events and time.monotonic() < deadline:
            series.append((time.perf_counter() - t0, watch.count))
            time.sleep(0.25)
        t_end = time.perf_counter()
        series.append((t_end - t0, watch.count))
        worker_cpu = [cpu_seconds(proc.pid) for proc in procs]
        cpu1 = [cpu_seconds(broker_pid), _self_cpu()]
        per_worker = [proc.metrics() for proc in procs]
        got, first, last = watch.count, watch.first, watch.last
    finally:
        watch.close()
        codes = [proc.stop() for proc in procs]
    elapsed = t_end - t0

    def at(share: float) -> float:
        want = share * events
        return next((t for t, n in series if n >= want), float("nan"))

    t10, t90 = at(0.1), at(0.9)
    return {
        "workers": workers,
        "events": events,
        "produce_s": round(produce_s, 2),
        "ready_s": ready,
        "incidents": got,
        "complete": got == events,
        "first_incident_s": round(first - t0, 2) if first else None,
        "last_incident_s": round(last - t0, 2) if last else None,
        "wall_per_s": round(got / (last - t0), 1) if last else None,
        "first_to_last_per_s": round((got - 1) / (last - first), 1) if got > 1 else None,
        "steady_10_90_per_s": round(0.8 * events / (t90 - t10), 1) if t90 > t10 else None,
        "cpu_share_of_one_core": {
            **{f"worker{k}": round(c / elapsed, 2) for k, c in enumerate(worker_cpu)},
            "broker": round((cpu1[0] - cpu0[0]) / elapsed, 2),
            "bench": round((cpu1[1] - cpu0[1]) / elapsed, 2),
        },
        "per_worker": [
            {
                "decoded": m.get("correlator_events_consumed_total", 0.0),
                "records_processed": m.get("correlator_records_processed_total", 0.0),
                "incident_updates": m.get("correlator_incident_updates_published_total", 0.0),
                "engines": m.get("correlator_engines", 0.0),
                "rebalances": m.get("correlator_rebalances_total", 0.0),
            }
            for m in per_worker
        ],
        "worker_exit_codes": codes,
        "progress": [(round(t, 2), n) for t, n in series[:: max(1, len(series) // 60)]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", help="use this broker instead of starting Tansu")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=150.0)
    parser.add_argument(
        "--client",
        choices=("kafka-python", "confluent"),
        default="kafka-python",
        help="the workers' producer client",
    )
    args = parser.parse_args()
    os.environ["BENCH_KAFKA_CLIENT"] = args.client
    split = domain_split()
    print(
        f"generated 10k topology: {split['domains']} domains, largest "
        f"{split['largest_domain_share']:.0%} of machine nodes; per partition "
        f"{split['machine_nodes_per_partition']}"
    )
    runs = []
    with broker(args.bootstrap, None) as (bootstrap, broker_desc, broker_pid):
        for workers in (1, 2):
            print(f"{workers} worker(s), backlog of {args.events:,} ...", flush=True)
            runs.append(run_config(bootstrap, workers, args.events, broker_pid, args.timeout))
    one, two = runs
    ratios = {
        key: round(two[key] / one[key], 2) if one[key] and two[key] else None
        for key in ("wall_per_s", "first_to_last_per_s", "steady_10_90_per_s")
    }
    result = {
        "benchmark": "kafka_scaleout",
        "machine": machine(),
        "settings": {
            "broker": broker_desc,
            "workers": "`python -m correlator.cli run --config FILE` subprocesses, one group, "
            "unpinned; 2 cores shared by workers, broker and the bench consumer",
            "worker_config": WORKER_SETTINGS,
            "topology": "bundled example organisation (alerts are unmapped)",
            "message": "Alertmanager webhook JSON, one firing alert, distinct service label",
            "message_bytes": len(alert_message("0000", 0, datetime.now(UTC))[1]),
            "backlog": "produced before the workers start; done = every alert's incident "
            "(version 1) read back from the incidents topic",
            "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        },
        "domain_split_generated_10k": split,
        "runs": runs,
        "ratio_two_vs_one": ratios,
        "target_ratio": 1.7,
    }
    path = write_result(
        "kafka_scaleout" if args.client == "kafka-python" else f"kafka_scaleout-{args.client}",
        result,
    )
    rows = [
        [
            r["workers"],
            r["events"],
            "yes" if r["complete"] else "no",
            r["last_incident_s"],
            r["wall_per_s"],
            r["first_to_last_per_s"],
            r["steady_10_90_per_s"],
            " ".join(f"{k}={v:.2f}" for k, v in r["cpu_share_of_one_core"].items()),
        ]
        for r in runs
    ]
    rows.append(["ratio", "", "", "", *ratios.values(), "(2 cores in all)"])
    header = ["workers", "events", "done", "last s", "wall/s", "first-last/s", "10-90%/s", "cpu"]
    print(table(rows, header))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
