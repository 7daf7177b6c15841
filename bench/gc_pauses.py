"""Garbage-collector pauses with many open incidents, with and without `gc.freeze()`.

    .venv/bin/python bench/gc_pauses.py            # 10k, 30k, 60k open incidents
    .venv/bin/python bench/gc_pauses.py --quick    # 10k and 30k

CPython's collector walks every tracked object of a generation when it collects it; an engine
holding tens of thousands of open incidents makes the old generation large, and an automatic
full collection then stops the worker for as long as the walk takes. Measured here:

* the engine is loaded with N open incidents (`ingest_many`, 500 alerts a call; each alert is
  firing and carries a `service` label no node has, so it opens an unmapped incident of its own,
  as in bench/kafka_e2e.py), on the bundled example topology (loaded as the worker loads it);
* every automatic collection during the load is timed through `gc.callbacks` (the old
  generation's pauses grow with what is already held);
* at each N: with `freeze` the held objects are moved to the permanent generation first
  (`gc.collect(); gc.freeze()`, what the worker can do after a restore); then a full collection
  (`gc.collect(2)`, what an automatic old-generation collection costs at this size) is timed
  3 times, and a churn window of new alerts and re-sends (2 re-sends per new alert) is run with
  every automatic collection timed.

Both modes run in one process one after the other; the first engine is dropped and collected
before the second starts. Writes bench/results/gc_pauses.json (gc_pauses-quick.json).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo: tests.support
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import T0, Event, GcTimer, machine, rss_bytes, table, to_alert, write_result

from correlator.core import Correlator
from correlator.wire.render.record import build_record
from topology import Topology, load_topology

EXAMPLE = Path(__file__).resolve().parent.parent / "topology" / "examples"


def example_topology() -> Topology:
    return load_topology(EXAMPLE)


def firing(i: int, resend: int = 0) -> Event:
    service = f"bench-gc-{i}"
    labels = {"alertname": "ProbeFailing", "service": service, "severity": "critical"}
    starts = T0 + timedelta(milliseconds=10 * i)
    at = starts + timedelta(seconds=60 * resend)
    return (at, f"gc{i:012x}", "firing", labels, starts, None, "resend" if resend else "storm")


def load(engine: Correlator, start: int, stop: int) -> None:
    batch = []
    for i in range(start, stop):
        event = firing(i)
        batch.append((to_alert(event), event[0]))
        if len(batch) == 500:
            engine.ingest_many(batch)
            batch = []
    if batch:
        engine.ingest_many(batch)
    engine.take_state_changes()  # as the worker does after each batch


def churn(engine: Correlator, first_new: int, events: int) -> dict[str, Any]:
    """`events` events: one new alert then re-sends of two earlier ones, one `ingest` each."""
    with GcTimer() as gct:
        t0 = time.perf_counter()
        new = first_new
        for k in range(events):
            if k % 3 == 0:
                event = firing(new)
                new += 1
            else:
                event = firing((first_new * 7 + k * 13) % first_new, resend=1)
            engine.ingest(to_alert(event), event[0])
            if k % 500 == 499:
                engine.take_state_changes()
        wall = time.perf_counter() - t0
    return {"events": events, "new_incidents": new - first_new, **gct.summary(wall)}


def run_mode(topo: Topology, levels: list[int], freeze: bool, churn_events: int) -> dict[str, Any]:
    gc.unfreeze()
    gc.collect()
    rss0 = rss_bytes()
    engine = Correlator(topo, render=build_record)
    out: dict[str, Any] = {"freeze": freeze, "levels": {}}
    loaded = 0
    next_id = 10_000_000  # churn alerts: ids beyond every load
    for level in levels:
        with GcTimer() as gct:
            t0 = time.perf_counter()
            load(engine, loaded, level)
            load_s = time.perf_counter() - t0
        loaded = level
        frozen_s = 0.0
        if freeze:
            t0 = time.perf_counter()
            gc.collect()
            gc.freeze()
            frozen_s = time.perf_counter() - t0
        full, full_cpu = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter_ns(), time.process_time_ns()
            gc.collect(2)
            full.append((time.perf_counter_ns() - t0) / 1e6)
            full_cpu.append((time.process_time_ns() - c0) / 1e6)
        window = churn(engine, next_id, churn_events)
        next_id += window["new_incidents"]
        out["levels"][str(level)] = {
            "open_incidents": len(engine.incidents),
            "rss_mb": round((rss_bytes() - rss0) / 2**20, 1),
            "frozen_objects": gc.get_freeze_count(),
            "freeze_s": round(frozen_s, 3),
            "load": {"seconds": round(load_s, 2), **gct.summary(load_s)},
            "full_collection_ms": [round(v, 1) for v in full],
            "full_collection_cpu_ms": [round(v, 1) for v in full_cpu],
            "churn": window,
        }
        print(
            f"  {'freeze' if freeze else 'no freeze'} {level:>6,}: full collection "
            f"{min(full):.1f} ms ({min(full_cpu):.1f} CPU), churn max pause "
            f"{window['max_pause_ms']} ms ({window['max_pause_cpu_ms']} CPU; "
            f"{window['gen2']['count']} gen2)",
            flush=True,
        )
    del engine
    gc.unfreeze()
    gc.collect()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 30k only")
    parser.add_argument("--churn", type=int, default=6000, help="events per churn window")
    args = parser.parse_args()
    started = time.perf_counter()
    levels = [10_000, 30_000] if args.quick else [10_000, 30_000, 60_000]
    topo = example_topology()
    result: dict[str, Any] = {
        "benchmark": "gc_pauses",
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "settings": {
            "topology": f"bundled example ({len(topo)} nodes); every alert unmapped, one "
            "incident each",
            "levels": levels,
            "churn_events": args.churn,
            "gc_thresholds": gc.get_threshold(),
            "load": "one process, unpinned; the 2 cores are shared with other work",
        },
        "modes": {},
    }
    name = "gc_pauses-quick" if args.quick else "gc_pauses"
    for freeze in (False, True):
        mode = "freeze" if freeze else "no_freeze"
        result["modes"][mode] = run_mode(topo, levels, freeze, args.churn)
        write_result(name, result)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    path = write_result(name, result)
    rows = []
    for mode, m in result["modes"].items():
        for level, v in m["levels"].items():
            rows.append(
                [
                    mode,
                    int(level),
                    v["rss_mb"],
                    f"{v['load']['gen2']['max_ms']:.1f} ({v['load']['gen2']['max_cpu_ms']:.1f})",
                    f"{min(v['full_collection_ms']):.1f} ({min(v['full_collection_cpu_ms']):.1f})",
                    f"{v['churn']['max_pause_ms']:.1f} ({v['churn']['max_pause_cpu_ms']:.1f})",
                    v["churn"]["gen2"]["count"],
                    v["churn"]["pauses_over_10ms"],
                ]
            )
    header = ["mode", "open incidents", "RSS MB", "load gen2 max ms", "full collect ms"]
    print("\nwall ms (CPU ms in brackets: the collection's own work, without waiting for a core)")
    print(table(rows, [*header, "churn max ms", "churn gen2", "churn >10ms"]))
    print(f"\nwrote {path} in {result['elapsed_s']} s")


if __name__ == "__main__":
    main()
