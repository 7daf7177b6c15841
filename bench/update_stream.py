"""The update stream: how much the engine publishes, and what one change costs as incidents grow.

    .venv/bin/python bench/update_stream.py            # full run
    .venv/bin/python bench/update_stream.py --quick    # shorter storm stream, fewer repeats

Three measurements, all through the engine's public API (`Correlator`, `ingest_many`, `tick`,
`take_state_changes`, `correlator.replay.replay_updates`), so they run unchanged on any engine
that keeps that API:

* **outage**: a top-of-rack switch fails on a generated topology; ~550 alerts on its down set
  fire over two minutes, are re-sent every minute (as Alertmanager re-sends) for 15 minutes and
  resolve over two minutes. Fed as Alertmanager alert objects (JSON lines) through
  `replay_updates`, one line at a time, as `correlator replay` feeds them, then drained. Counted:
  versions published per incident, bytes of incident records (`IncidentRecord.to_json()`, what
  goes on the incidents topic) and bytes of state changes (`take_state_changes()` after every
  line, encoded as the worker's changelog encodes them).
* **storm stream**: bench/common.py's generator (storms, re-sends, noise, resolutions) on a
  1,500-service topology, the same way: output bytes per input event, versions per incident.
* **per change**: one incident of 10 / 100 / 1,000 / 10,000 alerts (built with `ingest_many`,
  not timed), then one new alert at a time: CPU (`time.process_time`) and wall
  (`time.perf_counter`) per change for `ingest`, for serialising the published records, and for
  taking and serialising the state changes; and the size of the incident's record and of its
  state value (`snapshot()` entry) at that size. If the engine coalesces updates (an
  `update_interval` setting), time is advanced by that interval and `tick` is timed as part of
  the change, so a deferred publish is not left out. Target: flat within 2x from 10 to 10,000.

Writes bench/results/update_stream.json (update_stream-quick.json with --quick).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo: tests.support
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ALERTNAMES,
    T0,
    Event,
    StreamSpec,
    alert_labels,
    fingerprint,
    machine,
    make_stream,
    stream_mix,
    table,
    to_alert,
    to_am_object,
    write_result,
)

from correlator.core import Correlator
from correlator.core.settings import EngineSettings
from correlator.replay import replay_updates
from correlator.wire.render.record import build_record
from tests.support.topology_generator import generate_topology
from topology import Topology

try:  # the worker's own changelog encoding, if it still has this name
    from correlator.worker.changelog import encode_value as _encode_state
except ImportError:  # pragma: no cover - a moved helper must not stop the benchmark

    def _encode_state(value: Any) -> bytes | None:
        return None if value is None else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def state_bytes(changes: dict[str, Any]) -> int:
    return sum(len(k) + len(_encode_state(v) or b"") for k, v in changes.items())


def find_setting(settings: EngineSettings, name: str) -> Any:
    """A setting by field name anywhere in the settings tree (None if this engine has none)."""
    stack: list[Any] = [settings]
    while stack:
        obj = stack.pop()
        fields = getattr(type(obj), "model_fields", None)
        if fields is None:
            continue
        if name in fields:
            return getattr(obj, name)
        stack.extend(getattr(obj, f) for f in fields)
    return None


# -- feeding lines the way `correlator replay` does ---------------------------------------------


def replay_counted(engine: Correlator, lines: Iterable[bytes]) -> dict[str, Any]:
    """Every line through `replay_updates` on its own (state changes taken after each, as the
    worker's changelog would), then drained; what came out, per incident."""
    versions: dict[str, int] = {}
    record_bytes: dict[str, int] = {}
    biggest: dict[str, int] = {}
    changes_kinds: dict[str, int] = {}
    state_total = state_keys = events = 0
    t0 = time.perf_counter()
    cpu0 = time.process_time()

    def take(updates: Iterable[Any]) -> None:
        nonlocal state_total, state_keys
        for update in updates:
            record = update.record
            size = len(record.to_json())
            versions[record.id] = versions.get(record.id, 0) + 1
            record_bytes[record.id] = record_bytes.get(record.id, 0) + size
            biggest[record.id] = max(biggest.get(record.id, 0), size)
            for kind in getattr(record, "changes", None) or ():
                changes_kinds[str(kind)] = changes_kinds.get(str(kind), 0) + 1
        changes = engine.take_state_changes()
        state_total += state_bytes(changes)
        state_keys += len(changes)

    for line in lines:
        events += 1
        take(replay_updates(engine, [line], drain=False))
    take(replay_updates(engine, [], drain=True))
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    per_inc = sorted(versions.values())
    out_bytes = sum(record_bytes.values())
    return {
        "events": events,
        "elapsed_s": round(elapsed, 2),
        "cpu_s": round(cpu, 2),
        "events_per_s": round(events / elapsed) if elapsed else None,
        "incidents": len(versions),
        "versions_total": sum(per_inc),
        "versions_per_incident": {
            "mean": round(statistics.fmean(per_inc), 1) if per_inc else 0,
            "p50": per_inc[len(per_inc) // 2] if per_inc else 0,
            "max": per_inc[-1] if per_inc else 0,
        },
        "record_bytes_total": out_bytes,
        "record_bytes_max": max(biggest.values(), default=0),
        "record_bytes_per_event": round(out_bytes / max(1, events), 1),
        "state_bytes_total": state_total,
        "state_keys_written": state_keys,
        "state_bytes_per_event": round(state_total / max(1, events), 1),
        "output_bytes_per_event": round((out_bytes + state_total) / max(1, events), 1),
        "changes_named": dict(sorted(changes_kinds.items())),
        "_versions": versions,
        "_record_bytes": record_bytes,
    }


# -- (a) a rack outage ------------------------------------------------------------------------


def biggest_tor(topo: Topology) -> tuple[str, list[str]]:
    best: tuple[str, list[str]] = ("", [])
    for node_id, info in topo.nodes.items():
        if info.kind == "network" and "-tor-" in node_id:
            down = [
                n
                for n in sorted(topo.down_set((node_id,)))
                if n != node_id and topo.nodes[n].kind in ("host", "service", "database")
            ]
            if len(down) > len(best[1]):
                best = (node_id, down)
    return best


def outage_events(topo: Topology, alerts: int, minutes: int, seed: int = 5) -> list[Event]:
    """`alerts` alerts on a top-of-rack switch and its down set (several alert names per node):
    fired over 2 minutes, re-sent every minute, resolved over 2 minutes after `minutes`."""
    rng = Random(seed)
    root, down = biggest_tor(topo)
    nodes = [root, *down]
    events: list[Event] = []
    for i in range(alerts):
        node = nodes[i % len(nodes)]
        names = ALERTNAMES.get(topo.nodes[node].kind, ("Down",))
        k = i // len(nodes)
        labels = alert_labels(topo, node, names[k] if k < len(names) else f"Check{k}")
        fp = fingerprint(labels)
        starts = T0 + timedelta(seconds=0 if i == 0 else rng.uniform(0, 120))
        starts = starts.replace(microsecond=0)
        ends = T0 + timedelta(minutes=minutes, seconds=rng.uniform(0, 120))
        ends = ends.replace(microsecond=0)
        events.append((starts, fp, "firing", labels, starts, None, "storm"))
        at = starts + timedelta(seconds=60)
        while at < ends:
            events.append((at, fp, "firing", labels, starts, None, "resend"))
            at += timedelta(seconds=60)
        events.append((ends, fp, "resolved", labels, starts, ends, "resolve"))
    events.sort(key=lambda e: e[0])
    return events


def run_outage(topo: Topology, alerts: int, minutes: int) -> dict[str, Any]:
    events = outage_events(topo, alerts, minutes)
    root, down = biggest_tor(topo)
    lines = [orjson.dumps(to_am_object(e)) for e in events]
    out = replay_counted(Correlator(topo, render=build_record), lines)
    versions, sizes = out.pop("_versions"), out.pop("_record_bytes")
    top = max(versions, key=lambda k: versions[k], default=None)
    out["root"] = root
    out["down_set_machines"] = len(down)
    out["alerts"] = alerts
    out["stream_mix"] = stream_mix(events)
    out["largest_incident"] = (
        {"versions": versions[top], "record_bytes": sizes[top]} if top is not None else None
    )
    return out


# -- (b) a long storm stream ------------------------------------------------------------------


def run_storms(topo: Topology, events: int, every: timedelta) -> dict[str, Any]:
    stream = make_stream(topo, StreamSpec(events=events, seed=3, storm_every=every))
    lines = [orjson.dumps(to_am_object(e)) for e in stream]
    out = replay_counted(Correlator(topo, render=build_record), lines)
    out.pop("_versions")
    out.pop("_record_bytes")
    out["storm_every_s"] = every.total_seconds()
    out["simulated_hours"] = round((stream[-1][0] - stream[0][0]).total_seconds() / 3600, 1)
    out["stream_mix"] = stream_mix(stream)
    return out


# -- (c) cost per change against incident size --------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[Any, int, int]:
    """(result, CPU ns, wall ns)."""
    c, w = time.process_time_ns(), time.perf_counter_ns()
    result = fn()
    return result, time.process_time_ns() - c, time.perf_counter_ns() - w


def _med(values: list[int]) -> float:
    return round(statistics.median(values) / 1000, 1) if values else 0.0


def per_change(topo: Topology, size: int, repeats: int) -> dict[str, Any]:
    root, down = biggest_tor(topo)
    nodes = [root, *down]
    alerts = []
    for i in range(size + repeats):
        node = nodes[i % len(nodes)]
        labels = alert_labels(topo, node, f"Check{i // len(nodes)}")
        alerts.append((labels, fingerprint(labels)))
    engine = Correlator(topo, render=build_record)
    interval = find_setting(engine.settings, "update_interval")
    step = interval if isinstance(interval, timedelta) and interval > timedelta(0) else None
    at = T0

    def event(i: int, when: datetime) -> Event:
        labels, fp = alerts[i]
        return (when, fp, "firing", labels, T0, None, "storm")

    for start in range(0, size, 500):  # build the incident (not timed)
        batch = [(to_alert(event(i, at)), at) for i in range(start, min(size, start + 500))]
        engine.ingest_many(batch)
    if step is not None:
        at += step
        engine.tick(at)
    engine.take_state_changes()
    gc.collect()
    cost: dict[str, list[int]] = {k: [] for k in ("ingest", "tick", "record", "state", "total")}
    wall: dict[str, list[int]] = {k: [] for k in cost}
    record_size = state_size = published = 0
    incident_alerts = 0
    for r in range(repeats):
        at += step or timedelta(seconds=1)
        alert = to_alert(event(size + r, at))
        updates, c_ing, w_ing = _timed(lambda: engine.ingest(alert, at))  # noqa: B023
        c_tick = w_tick = 0
        if step is not None:
            at += step
            more, c_tick, w_tick = _timed(lambda: engine.tick(at))  # noqa: B023
            updates = [*updates, *more]
        blobs, c_rec, w_rec = _timed(lambda: [u.record.to_json() for u in updates])  # noqa: B023
        changes, c_st, w_st = _timed(
            lambda: {k: _encode_state(v) for k, v in engine.take_state_changes().items()}
        )
        published += len(blobs)
        if blobs:
            record_size = max(len(b) for b in blobs)
        incident_keys = [k for k in changes if k.startswith("incident/")]
        if incident_keys:
            state_size = max(len(changes[k] or b"") for k in incident_keys)
        for name, c, w in (
            ("ingest", c_ing, w_ing),
            ("tick", c_tick, w_tick),
            ("record", c_rec, w_rec),
            ("state", c_st, w_st),
            ("total", c_ing + c_tick + c_rec + c_st, w_ing + w_tick + w_rec + w_st),
        ):
            cost[name].append(c)
            wall[name].append(w)
    incident_alerts = max((len(i.alerts) for i in engine.incidents.values()), default=0)
    snap = engine.snapshot()
    snap_values = [
        len(_encode_state(v) or b"") for k, v in snap.items() if k.startswith("incident/")
    ]
    return {
        "alerts_in_incident": size,
        "largest_incident_alerts_seen": incident_alerts,
        "incidents": len(engine.incidents),
        "repeats": repeats,
        "update_interval": str(step) if step else None,
        "records_published": published,
        "cpu_us_median": {k: _med(v) for k, v in cost.items()},
        "wall_us_median": {k: _med(v) for k, v in wall.items()},
        "cpu_us_max_total": round(max(cost["total"]) / 1000, 1),
        "record_bytes": record_size,
        "state_change_bytes_incident": state_size,
        "snapshot_incident_value_bytes_max": max(snap_values, default=0),
    }


# -- main ------------------------------------------------------------------------------------


_STARTED = time.perf_counter()


def say(text: str) -> None:
    print(f"{time.perf_counter() - _STARTED:6.1f}s {text}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter storm stream, fewer repeats")
    parser.add_argument("--n-services", type=int, default=1500)
    parser.add_argument("--outage-alerts", type=int, default=550)
    parser.add_argument("--storm-events", type=int, help="default 20,000 (quick 8,000)")
    parser.add_argument(
        "--storm-every", type=float, default=60, help="mean minutes between storms (default 60)"
    )
    args = parser.parse_args()
    storm_events = args.storm_events or (8_000 if args.quick else 20_000)
    repeats = 5 if args.quick else 20
    sizes = (10, 100, 1_000, 10_000)
    gc.unfreeze()
    topo = Topology.from_document(generate_topology(args.n_services, 1))
    result: dict[str, Any] = {
        "benchmark": "update_stream",
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "settings": {
            "topology": f"generate_topology({args.n_services}, seed=1): {len(topo)} nodes",
            "engine": EngineSettings().model_dump(mode="json"),
            "outage_alerts": args.outage_alerts,
            "storm_events": storm_events,
            "storm_every_minutes": args.storm_every,
            "per_change_repeats": repeats,
            "load": "one process, unpinned; the 2 cores are shared with other work",
        },
    }
    name = "update_stream-quick" if args.quick else "update_stream"
    say(f"outage: {args.outage_alerts} alerts on one rack ({len(topo)} nodes)...")
    result["outage"] = run_outage(topo, args.outage_alerts, 15)
    write_result(name, result)
    say(f"storm stream: {storm_events} events...")
    result["storm_stream"] = run_storms(topo, storm_events, timedelta(minutes=args.storm_every))
    write_result(name, result)
    result["per_change"] = {}
    for size in sizes:
        say(f"per change: incident of {size} alerts...")
        result["per_change"][str(size)] = per_change(topo, size, repeats)
        write_result(name, result)
    pc = result["per_change"]
    lo, hi = pc["10"], pc["10000"]
    out, st = result["outage"], result["storm_stream"]
    result["targets"] = {
        "outage_versions_le_60": {
            "value": out["versions_per_incident"]["max"],
            "met": out["versions_per_incident"]["max"] <= 60,
        },
        "output_le_2kb_per_event": {
            "records": st["record_bytes_per_event"],
            "records_and_state": st["output_bytes_per_event"],
            "met": st["output_bytes_per_event"] <= 2048,
        },
        "cpu_per_change_flat_10_to_10000_within_2x": {
            "ratio": round(hi["cpu_us_median"]["total"] / max(lo["cpu_us_median"]["total"], 1), 2),
            "met": hi["cpu_us_median"]["total"] <= 2 * lo["cpu_us_median"]["total"],
        },
        "record_size_flat_within_2x": {
            "ratio": round(hi["record_bytes"] / max(lo["record_bytes"], 1), 2),
            "met": hi["record_bytes"] <= 2 * lo["record_bytes"],
        },
        "state_value_flat_within_2x": {
            "ratio": round(
                hi["snapshot_incident_value_bytes_max"]
                / max(lo["snapshot_incident_value_bytes_max"], 1),
                2,
            ),
            "met": hi["snapshot_incident_value_bytes_max"]
            <= 2 * lo["snapshot_incident_value_bytes_max"],
        },
    }
    result["elapsed_s"] = round(time.perf_counter() - _STARTED, 1)
    path = write_result(name, result)
    report(result)
    print(f"\nwrote {path} in {result['elapsed_s']} s")


def report(r: dict[str, Any]) -> None:
    rows = []
    for label in ("outage", "storm_stream"):
        o = r[label]
        rows.append(
            [
                label,
                o["events"],
                o["incidents"],
                o["versions_total"],
                o["versions_per_incident"]["max"],
                o["record_bytes_total"],
                o["record_bytes_max"],
                o["record_bytes_per_event"],
                o["state_bytes_per_event"],
                o["events_per_s"],
            ]
        )
    print()
    header = ["stream", "events", "incidents", "versions", "max/incident", "record B"]
    print(table(rows, [*header, "max record B", "record B/event", "state B/event", "events/s"]))
    rows = [
        [
            size,
            p["largest_incident_alerts_seen"],
            p["cpu_us_median"]["ingest"],
            p["cpu_us_median"]["tick"],
            p["cpu_us_median"]["record"],
            p["cpu_us_median"]["state"],
            p["cpu_us_median"]["total"],
            p["wall_us_median"]["total"],
            p["record_bytes"],
            p["snapshot_incident_value_bytes_max"],
        ]
        for size, p in r["per_change"].items()
    ]
    print()
    header = ["alerts", "largest", "ingest cpu µs", "tick", "record", "state", "total cpu µs"]
    print(table(rows, [*header, "total wall µs", "record B", "state value B"]))
    print("\ntargets:")
    for name, t in r["targets"].items():
        shown = {k: v for k, v in t.items() if k != "met"}
        print(f"  {'MET    ' if t['met'] else 'NOT MET'} {name}: {shown}")


if __name__ == "__main__":
    main()
