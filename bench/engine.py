"""Engine benchmark: one process, one core, no Kafka.

    .venv/bin/python bench/engine.py            # full run (1k, 10k, 100k nodes)
    .venv/bin/python bench/engine.py --quick    # 1k and 10k nodes, two streams each (~1-2 min)
    .venv/bin/python bench/engine.py --profile  # also cProfile the 10k-node run

Measures, on generated topologies of about 1k, 10k and 100k nodes:

* topology build time and memory (from an in-memory document, and from JSON and YAML files);
* impact / causes query latency for random nodes, cold (first query) and warm (cached);
* replay throughput (alerts/s) and per-event cost on a realistic stream (storms of related
  alerts, Alertmanager re-sends, noise, resolutions), four ways: one `ingest` per alert (each
  call timed with perf_counter_ns) and 500 alerts per `ingest_many`, each on COLD topology
  caches (a fresh `load_document` before every stream, as a worker that just started) and on
  WARM ones (a topology that has replayed the same streams once before, untimed). Wall-clock
  alerts/s and alerts per CPU second (process_time) are both reported: the machine is shared;
* the full replay path (JSON line -> decode -> ingest) on the 10k-node topology;
* per-event cost against incident size (10, 100, 1000 alerts in one incident);
* memory per active alert and per open incident (tracemalloc, and RSS);
* GC pauses (gc.callbacks) during the replay, with and without gc.freeze() after topology load
  (bench/gc_pauses.py measures them with 10k-60k open incidents).

Writes bench/results/engine.json (engine-quick.json with --quick) and prints a table.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from random import Random
from typing import Any

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo: tests.support
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    T0,
    Event,
    GcTimer,
    StreamSpec,
    alert_labels,
    fingerprint,
    machine,
    make_stream,
    pin_one_core,
    rss_bytes,
    stream_mix,
    summarise_ns,
    table,
    to_alert,
    to_am_object,
    write_result,
)

from correlator.core.engine import Correlator
from correlator.core.model import Alert
from correlator.core.settings import EngineSettings
from correlator.replay import replay_updates
from correlator.wire.render.record import build_record
from tests.support.topology_generator import generate_topology
from topology import Topology, load_document, load_topology

#: n_services for about 1k, 10k and 100k nodes (the generator makes about 2.7 nodes a service).
SIZES = {"1k": 370, "10k": 3700, "100k": 37000}
_ns = time.perf_counter_ns


# -- topology ------------------------------------------------------------------------------


def build_topology(doc: Any, n_services: int) -> tuple[Topology, dict[str, Any]]:
    gc.collect()
    rss0 = rss_bytes()
    t = time.perf_counter()
    # As the worker loads a topology: collector off while building, gc.freeze() after.
    topo = load_document(doc)
    build_s = time.perf_counter() - t
    gc.collect()
    rss1 = rss_bytes()
    info = {
        "n_services": n_services,
        "nodes": len(topo),
        "from_document_s": round(build_s, 3),
        "from_document_rss_mb": round((rss1 - rss0) / 2**20, 1),
    }
    return topo, info


def file_load(doc: Any) -> dict[str, Any]:
    """Write the generated document as one JSON and one YAML file and time `load_topology` on
    each (the formats an organisation would keep its topology in)."""
    data = doc.model_dump(mode="json", exclude_defaults=True)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-topo-") as tmp:
        files = {
            "json": (Path(tmp) / "topology.json", orjson.dumps(data)),
            "yaml": (
                Path(tmp) / "topology.yaml",
                yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False).encode(),
            ),
        }
        del data
        for fmt, (path, body) in files.items():
            path.write_bytes(body)
            gc.collect()
            rss0 = rss_bytes()
            t = time.perf_counter()
            topo = load_topology(path)
            load_s = time.perf_counter() - t
            gc.unfreeze()  # load_topology freezes; undo it so later GC figures are not affected
            gc.collect()
            rss1 = rss_bytes()
            out[fmt] = {
                "bytes": len(body),
                "nodes": len(topo),
                "load_topology_s": round(load_s, 3),
                "load_topology_rss_mb": round((rss1 - rss0) / 2**20, 1),
            }
            del topo
    gc.collect()
    return out


def query_latency(topo: Topology, samples: int, seed: int = 7) -> dict[str, Any]:
    """impact() and causes() on random nodes: first query (cold cache), then again (warm)."""
    rng = Random(seed)
    nodes = rng.sample(sorted(topo.nodes), min(samples, len(topo.nodes)))
    hops = EngineSettings().grouping.max_hops
    out: dict[str, Any] = {"samples": len(nodes)}
    for name, query in (
        ("impact", lambda n: topo.impact((n,))),
        ("causes", lambda n: topo.causes(n, hops)),
    ):
        for phase in ("cold", "warm"):
            times = []
            for node in nodes:
                t = _ns()
                query(node)
                times.append(_ns() - t)
            out[f"{name}_{phase}"] = summarise_ns(times)
    return out


# -- the replay stream -----------------------------------------------------------------------


def run_streams(topo_for: Callable[[], Topology], streams: list[list[Event]]) -> dict[str, Any]:
    """Ingest every event of each stream (a fresh engine per stream, on `topo_for()`), one
    `ingest` call each, timing each call."""
    events = [e for stream in streams for e in stream]
    times = [0] * len(events)
    updates = 0
    sizes: list[int] = []
    counters: dict[str, int] = {}
    incidents = active = 0
    i = 0
    wall_ns = cpu_ns = 0
    with GcTimer() as gct:
        for stream in streams:
            engine = Correlator(topo_for(), render=build_record)  # a topology load is not timed
            ingest = engine.ingest
            wall = _ns()
            cpu = time.process_time_ns()
            for event in stream:
                alert = to_alert(event)  # the decoder's job; not timed
                at = event[0]
                t = _ns()
                out = ingest(alert, at)
                times[i] = _ns() - t
                i += 1
                if out:
                    updates += len(out)
                    sizes.extend(len(u.record.alerts) for u in out)
            cpu_ns += time.process_time_ns() - cpu
            wall_ns += _ns() - wall
            for k, v in engine.counters.items():
                counters[k] = counters.get(k, 0) + v
            stats = engine.stats()
            incidents += stats.incidents
            active += stats.active_alerts
        wall_s = wall_ns / 1e9
    # CPU time of the loop less that of building the alerts alone: on a shared machine the
    # wall-clock figure above also counts time this process waited for the core.
    cpu = time.process_time_ns()
    for event in events:
        to_alert(event)
    engine_cpu_ns = cpu_ns - (time.process_time_ns() - cpu)
    sizes.sort()
    busy_s = sum(times) / 1e9
    by_role: dict[str, list[int]] = {}
    for event, dt in zip(events, times, strict=True):
        by_role.setdefault(event[6], []).append(dt)
    return {
        "streams": len(streams),
        "events": len(events),
        "alerts_per_s": round(len(events) / busy_s),
        "alerts_per_cpu_s": round(len(events) / (engine_cpu_ns / 1e9))
        if engine_cpu_ns > 0
        else None,
        "per_event": summarise_ns(times),
        "per_role": {role: summarise_ns(v) for role, v in sorted(by_role.items())},
        "updates_published": updates,
        "alerts_per_published_incident": {
            "mean": round(sum(sizes) / max(1, len(sizes)), 1),
            "p50": sizes[len(sizes) // 2] if sizes else 0,
            "max": sizes[-1] if sizes else 0,
        },
        "verdicts": {k: v for k, v in sorted(counters.items()) if k.startswith("alerts_")},
        "incidents_at_end": incidents,
        "active_alerts_at_end": active,
        "incidents_merged": counters.get("incidents_merged", 0),
        "incidents_resolved": counters.get("incidents_resolved", 0),
        "simulated_minutes_per_stream": round(
            sum((st[-1][0] - st[0][0]).total_seconds() for st in streams) / 60 / len(streams), 1
        ),
        "gc": gct.summary(wall_s),
        "wall_s_incl_alert_construction": round(wall_s, 3),
    }


def run_batched(
    topo_for: Callable[[], Topology], streams: list[list[Event]], batch: int
) -> dict[str, Any]:
    """The same streams fed `batch` events per `ingest_many` call, as a worker could hand the
    engine one poll: each incident is re-assessed and published once per call, not per alert."""
    prepared = [[(to_alert(e), e[0]) for e in stream] for stream in streams]
    busy = cpu = 0
    events = updates = 0
    for stream in prepared:
        engine = Correlator(topo_for(), render=build_record)
        t, c = _ns(), time.process_time_ns()
        for i in range(0, len(stream), batch):
            updates += len(engine.ingest_many(stream[i : i + batch]))
        busy += _ns() - t
        cpu += time.process_time_ns() - c
        events += len(stream)
    return {
        "batch": batch,
        "events": events,
        "alerts_per_s": round(events / (busy / 1e9)),
        "alerts_per_cpu_s": round(events / (cpu / 1e9)) if cpu else None,
        "updates_published": updates,
    }


def cold_and_warm(doc: Any, streams: list[list[Event]]) -> dict[str, Any]:
    """One `ingest` per alert and 500 per `ingest_many`, each on cold topology caches (a fresh
    `load_document` before every stream, as a worker that just started) and on warm ones (a
    topology that has already seen the same streams once, untimed)."""
    out: dict[str, Any] = {}
    for mode, run in (
        ("one_at_a_time", lambda f: run_streams(f, streams)),
        ("batched_500", lambda f: run_batched(f, streams, 500)),
    ):
        out[f"{mode}_cold"] = run(lambda: load_document(doc))
        warm = load_document(doc)
        run_batched(lambda t=warm: t, streams, 500)  # warms the caches; not reported
        out[f"{mode}_warm"] = run(lambda t=warm: t)
        gc.collect()
    return out


def run_replay_path(topo: Topology, events: list[Event]) -> dict[str, Any]:
    """JSON lines (Alertmanager alert objects) through `replay_updates`: decode + ingest."""
    lines = [orjson.dumps(to_am_object(e)) for e in events]
    engine = Correlator(topo, render=build_record)
    t = time.perf_counter()
    n = sum(1 for _ in replay_updates(engine, lines, drain=False))
    elapsed = time.perf_counter() - t
    return {
        "events": len(lines),
        "alerts_per_s": round(len(lines) / elapsed),
        "us_per_event": round(elapsed / len(lines) * 1e6, 2),
        "updates": n,
    }


def decode_cost(events: list[Event], received_at: Any) -> dict[str, Any]:
    from correlator.wire.decode import decode  # noqa: PLC0415

    lines = [orjson.dumps(to_am_object(e)) for e in events]
    t = time.perf_counter()
    for line in lines:
        decode(line, received_at=received_at)
    elapsed = time.perf_counter() - t
    return {"us_per_alert": round(elapsed / len(lines) * 1e6, 2)}


def long_run(topo: Topology, events: list[Event], window: int) -> list[dict[str, Any]]:
    """One long stream: per-event cost and the largest incident, window by window."""
    engine = Correlator(topo, render=build_record)
    out = []
    for start in range(0, len(events), window):
        times = []
        for event in events[start : start + window]:
            alert = to_alert(event)
            t = _ns()
            engine.ingest(alert, event[0])
            times.append(_ns() - t)
        big = max(engine.incidents.values(), key=lambda inc: len(inc.alerts), default=None)
        out.append(
            {
                "events_so_far": start + len(times),
                "simulated_hours": round(
                    (events[start + len(times) - 1][0] - T0).seconds / 3600
                    + (events[start + len(times) - 1][0] - T0).days * 24,
                    1,
                ),
                "mean_us": round(sum(times) / len(times) / 1000, 1),
                "alerts_per_s": round(len(times) / (sum(times) / 1e9)),
                "largest_incident_alerts": len(big.alerts) if big else 0,
                "largest_incident_active": sum(a.active for a in big.alerts.values()) if big else 0,
                "largest_incident_status": big.status if big else None,
            }
        )
    return out


# -- incident size ---------------------------------------------------------------------------


def big_roots(topo: Topology, count: int) -> list[tuple[str, list[str]]]:
    """Top-of-rack switches with their machine down sets, largest first."""
    roots = []
    for node_id, info in topo.nodes.items():
        if info.kind == "network" and "-tor-" in node_id:
            down = [
                n
                for n in sorted(topo.down_set((node_id,)))
                if topo.nodes[n].kind in ("host", "service", "database", "network")
            ]
            roots.append((node_id, down))
    roots.sort(key=lambda r: -len(r[1]))
    return roots[:count]


def storm_alerts(topo: Topology, root: str, down: list[str], size: int, tag: str) -> list[Alert]:
    """`size` distinct alerts on the down set of `root` (several alert names per node)."""
    alerts = []
    members = [root, *[n for n in down if n != root]]
    for i in range(size):
        node = members[i % len(members)]
        labels = alert_labels(topo, node, f"Check{i // len(members)}")
        labels["storm"] = tag
        alerts.append(
            Alert(
                fingerprint=fingerprint(labels),
                name=labels["alertname"],
                status="firing",
                severity="critical",
                summary="x",
                source="alertmanager",
                labels=labels,
                starts_at=T0,
            )
        )
    return alerts


def incident_size(topo: Topology, sizes: dict[int, int]) -> dict[str, Any]:
    """{alerts per incident: how many incidents of that size to measure}."""
    out: dict[str, Any] = {}
    for size, repeats in sizes.items():
        roots = big_roots(topo, repeats)
        new: list[int] = []
        last_tenth: list[int] = []
        resend: list[int] = []
        resolve: list[int] = []
        largest = 0
        for r, (root, down) in enumerate(roots):
            engine = Correlator(topo, render=build_record)
            alerts = storm_alerts(topo, root, down, size, f"{size}-{r}")
            for i, alert in enumerate(alerts):
                at = T0 + timedelta(milliseconds=10 * i)
                t = _ns()
                engine.ingest(alert, at)
                dt = _ns() - t
                new.append(dt)
                if i >= size * 0.9:
                    last_tenth.append(dt)
            largest = max(largest, *(len(i.alerts) for i in engine.incidents.values()))
            at = T0 + timedelta(seconds=60)
            for alert in alerts:
                t = _ns()
                engine.ingest(alert, at)
                resend.append(_ns() - t)
            for i, alert in enumerate(alerts[:200]):  # resolves cost as much as new alerts
                ended = at + timedelta(milliseconds=10 * i + 10)
                done = alert.model_copy(update={"status": "resolved", "ends_at": ended})
                t = _ns()
                engine.ingest(done, ended)
                resolve.append(_ns() - t)
        out[str(size)] = {
            "largest_incident_alerts": largest,
            "roots": len(roots),
            "new_alert": summarise_ns(new),
            "new_alert_last_10pct": summarise_ns(last_tenth),
            "resend": summarise_ns(resend),
            "resolve": summarise_ns(resolve),
        }
    return out


# -- memory ----------------------------------------------------------------------------------


def _traced(topo: Topology, feed: list[tuple[dict[str, str], str]]) -> tuple[int, int, Correlator]:
    """Bytes the engine keeps after ingesting `feed` (alerts built inside the traced region, as
    a decoder would build them, and dropped after ingest)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine = Correlator(topo, render=build_record)
    for i, (labels, fp) in enumerate(feed):
        at = T0 + timedelta(milliseconds=i)
        alert = Alert(
            fingerprint=fp,
            name=labels["alertname"],
            status="firing",
            severity="critical",
            summary=f"{labels['alertname']} summary",
            source="alertmanager",
            labels=dict(labels),
            starts_at=at,
        )
        engine.ingest(alert, at)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, rss_bytes(), engine


def one_host_per_rack(topo: Topology) -> list[str]:
    """One host from each rack: alerts on them share no single-failure cause, so each host's
    alerts form an incident of their own (the core switches are redundant)."""
    seen: set[str] = set()
    hosts = []
    for node_id, info in topo.nodes.items():
        if info.kind != "host":
            continue
        rack = topo.dependencies(node_id)
        if rack and rack[0] not in seen:
            seen.add(rack[0])
            hosts.append(node_id)
    return hosts


def memory(topo: Topology, per_incident: int, max_incidents: int) -> dict[str, Any]:
    """Active alerts: `per_incident` alerts (different alert names) on each of up to
    `max_incidents` hosts in distinct racks. Open incidents: one alert on each of them."""
    hosts = one_host_per_rack(topo)[:max_incidents]
    many = [
        (labels, fingerprint(labels))
        for host in hosts
        for labels in (alert_labels(topo, host, f"Check{k}") for k in range(per_incident))
    ]
    singles = [
        (labels, fingerprint(labels))
        for labels in (alert_labels(topo, h, "HostDown") for h in hosts)
    ]
    out: dict[str, Any] = {"hosts": len(hosts), "alerts_per_incident": per_incident}
    for name, data in (("alerts", many), ("incidents", singles)):
        _traced(topo, data)  # warm the topology's caches: only engine state is measured next
        gc.collect()
        rss0 = rss_bytes()
        kept, rss1, engine = _traced(topo, data)
        stats = engine.stats()
        out[name] = {
            "active_alerts": stats.active_alerts,
            "open_incidents": stats.incidents,
            "traced_bytes": kept,
            "rss_delta_bytes": rss1 - rss0,
        }
        del engine
    inc = out["incidents"]
    per_incident_incl = inc["traced_bytes"] / inc["open_incidents"]
    many_out = out["alerts"]
    # Marginal cost of an alert: what the many-alert run keeps beyond its incidents' own cost.
    per_alert = (many_out["traced_bytes"] - per_incident_incl * many_out["open_incidents"]) / (
        many_out["active_alerts"] - many_out["open_incidents"]
    )
    out["bytes_per_active_alert"] = round(per_alert)
    out["bytes_per_active_alert_all_in"] = round(
        many_out["traced_bytes"] / many_out["active_alerts"]
    )
    out["bytes_per_open_incident_incl_its_alert"] = round(per_incident_incl)
    out["bytes_per_open_incident_excl_alert"] = round(per_incident_incl - per_alert)
    return out


# -- main ------------------------------------------------------------------------------------


def profile(topo: Topology, events: list[Event], top: int = 25) -> dict[str, Any]:
    alerts = [(to_alert(e), e[0]) for e in events]
    engine = Correlator(topo, render=build_record)
    prof = cProfile.Profile()
    prof.enable()
    for alert, at in alerts:
        engine.ingest(alert, at)
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_, ncalls, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "calls": ncalls,
                "tottime_share": round(tt / total, 4),
                "cumtime_share": round(ct / total, 4),
            }
        )
    by_tot = sorted(rows, key=lambda r: -r["tottime_share"])[:top]
    by_cum = sorted(rows, key=lambda r: -r["cumtime_share"])[:top]
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(30)
    (Path(__file__).resolve().parent / "results" / "engine-profile.txt").write_text(text.getvalue())
    return {
        "events": len(events),
        "total_s": round(total, 3),
        "by_tottime": by_tot,
        "by_cumtime": by_cum,
    }


_STARTED = time.perf_counter()


def say(text: str) -> None:
    print(f"{time.perf_counter() - _STARTED:6.1f}s {text}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller run (1k and 10k nodes)")
    parser.add_argument("--profile", action="store_true", help="cProfile the 10k-node stream")
    parser.add_argument("--streams", type=int, help="streams per topology (quick: 2)")
    parser.add_argument("--minutes", type=float, default=20, help="simulated minutes a stream")
    args = parser.parse_args()
    started = time.perf_counter()
    core = pin_one_core()
    # Fewer streams on bigger graphs: the per-event cost grows with size (see README).
    per_size = {"1k": 2, "10k": 2} if args.quick else {"1k": 4, "10k": 3, "100k": 1}
    if args.streams:
        per_size = dict.fromkeys(per_size, args.streams)
    sizes = {k: v for k, v in SIZES.items() if not (args.quick and k == "100k")}
    spec = StreamSpec(minutes=args.minutes)
    result: dict[str, Any] = {
        "benchmark": "engine",
        "mode": "quick" if args.quick else "full",
        "machine": {**machine(), "pinned_core": core},
        "settings": {
            "streams_per_topology": per_size,
            "engine": EngineSettings().model_dump(mode="json"),
            "stream": {
                k: v if isinstance(v, int | float | dict | tuple | None) else str(v)
                for k, v in vars(spec).items()
            },
        },
        "topologies": {},
    }
    name = "engine-quick" if args.quick else "engine"
    gc.unfreeze()
    keep: dict[str, tuple[Topology, list[list[Event]]]] = {}
    for label, n_services in sizes.items():
        say(f"[{label}] building topology ({n_services} services)...")
        doc = generate_topology(n_services, 1)
        topo, info = build_topology(doc, n_services)
        info["queries"] = query_latency(topo, 1000)  # on a fresh topology: cold, then warm
        info["files"] = file_load(doc)
        # Streams are generated on a topology of their own: generating walks down sets, which
        # would warm the caches of the one measured.
        gen = load_document(doc)
        streams = [
            make_stream(gen, StreamSpec(minutes=args.minutes, seed=seed))
            for seed in range(1, per_size[label] + 1)
        ]
        del gen
        info["stream_mix"] = stream_mix([e for st in streams for e in st])
        total = sum(len(st) for st in streams)
        say(f"[{label}] {info['nodes']} nodes; {len(streams)} streams, {total} events...")
        info.update(cold_and_warm(doc, streams))
        result["topologies"][label] = info
        write_result(name, result)  # partial results survive an interrupted run
        if label in ("1k", "10k"):
            keep[label] = (topo, streams)
        del topo, streams, doc
        gc.collect()

    topo1k, _ = keep["1k"]
    say("[1k] long run (one stream, many hours)...")
    long_events = make_stream(topo1k, StreamSpec(events=6_000 if args.quick else 16_000))
    result["long_run_1k"] = long_run(topo1k, long_events, 2_000)
    write_result(name, result)
    topo, streams = keep["10k"]
    events = [e for st in streams for e in st]
    say("[10k] replay path (JSON -> decode -> ingest)...")
    result["replay_path_10k"] = run_replay_path(topo, streams[0])
    result["decode_10k"] = decode_cost(events[:20000], T0)
    say("[10k] GC with gc.freeze() after topology load...")
    gc.collect()
    gc.freeze()
    result["gc_freeze_10k"] = run_streams(lambda: topo, streams)
    write_result(name, result)
    gc.unfreeze()
    say("[10k] incident size...")
    result["incident_size_10k"] = incident_size(topo, {10: 5, 100: 3, 1000: 1})
    say("[10k] memory...")
    result["memory_10k"] = memory(topo, 50, 40 if args.quick else 100)
    write_result(name, result)
    if args.profile:
        say("[10k] cProfile...")
        result["profile_10k"] = profile(topo, streams[0])
    result["targets"] = targets(result)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    path = write_result(name, result)
    report(result)
    print(f"\nwrote {path} in {result['elapsed_s']} s")


def targets(r: dict[str, Any]) -> dict[str, Any]:
    topos = r["topologies"]
    t10 = topos["10k"]
    out: dict[str, Any] = {}
    for mode in ("one_at_a_time", "batched_500"):
        for cache in ("cold", "warm"):
            value = t10[f"{mode}_{cache}"]["alerts_per_s"]
            out[f"engine_40k_alerts_per_s_10k_{mode}_{cache}"] = {
                "value": value,
                "per_cpu_s": t10[f"{mode}_{cache}"]["alerts_per_cpu_s"],
                "met": value >= 40_000,
                # The target is one alert at a time on cold caches; the rest are context.
                "the_target": mode == "one_at_a_time" and cache == "cold",
            }
    if "100k" in topos:
        small, big = topos["1k"]["one_at_a_time_cold"], topos["100k"]["one_at_a_time_cold"]
        growth_mean = big["per_event"]["mean_us"] / small["per_event"]["mean_us"]
        growth_p50 = big["per_event"]["p50_us"] / small["per_event"]["p50_us"]
        out["per_event_growth_1k_to_100k_lt_2x"] = {
            "mean_ratio": round(growth_mean, 2),
            "p50_ratio": round(growth_p50, 2),
            "met": growth_mean < 2 and growth_p50 < 2,
        }
        load = topos["100k"]
        files = load["files"]
        out["load_100k_lt_5s"] = {
            "from_document_s": load["from_document_s"],
            "json_s": files["json"]["load_topology_s"],
            "yaml_s": files["yaml"]["load_topology_s"],
            # Met when a topology file loads in time; YAML is reported, PyYAML is its bound.
            "met": max(load["from_document_s"], files["json"]["load_topology_s"]) < 5,
        }
    per_alert = r["memory_10k"]["bytes_per_active_alert"]
    out["memory_le_2kb_per_active_alert"] = {"value": per_alert, "met": per_alert <= 2048}
    worst_impact = max(t["queries"]["impact_cold"]["p99_us"] for t in topos.values())
    out["impact_p99_lt_1ms"] = {
        "cold_p99_us_worst": worst_impact,
        "warm_p99_us_worst": max(t["queries"]["impact_warm"]["p99_us"] for t in topos.values()),
        "met": worst_impact < 1000,
    }
    runs = [t["one_at_a_time_cold"]["gc"]["max_pause_ms"] for t in topos.values()]
    frozen = r["gc_freeze_10k"]["gc"]["max_pause_ms"]
    out["gc_pause_le_10ms"] = {
        "max_pause_ms_no_freeze": max(runs),
        "max_pause_ms_freeze_10k": frozen,
        "met": max(*runs, frozen) <= 10,
    }
    return out


def report(r: dict[str, Any]) -> None:
    rows = []
    for label, t in r["topologies"].items():
        rep = t["one_at_a_time_cold"]
        rows.append(
            [
                label,
                t["nodes"],
                f"{rep['alerts_per_s']:,} ({rep['alerts_per_cpu_s']:,})",
                *(
                    f"{t[k]['alerts_per_s']:,} ({t[k]['alerts_per_cpu_s']:,})"
                    for k in ("one_at_a_time_warm", "batched_500_cold", "batched_500_warm")
                ),
                rep["per_event"]["mean_us"],
                rep["per_event"]["p50_us"],
                rep["per_event"]["p99_us"],
                rep["gc"]["max_pause_ms"],
                t["from_document_s"],
                t["files"]["json"]["load_topology_s"],
                t["files"]["yaml"]["load_topology_s"],
                t["from_document_rss_mb"],
                t["queries"]["impact_cold"]["p99_us"],
                t["queries"]["impact_warm"]["p99_us"],
            ]
        )
    print("\nalerts/s by wall clock (and per CPU second, which excludes waiting for the core):")
    print(
        table(
            rows,
            [
                "topo",
                "nodes",
                "1-by-1 cold/s",
                "1-by-1 warm/s",
                "batch500 cold/s",
                "batch500 warm/s",
                "mean µs",
                "p50 µs",
                "p99 µs",
                "gc max ms",
                "build s",
                "json s",
                "yaml s",
                "build MB",
                "impact cold p99",
                "warm p99",
            ],
        )
    )
    print()
    size_rows = [
        [
            size,
            s["largest_incident_alerts"],
            s["new_alert"]["p50_us"],
            s["new_alert"]["p99_us"],
            s["new_alert_last_10pct"]["mean_us"],
            s["resend"]["p50_us"],
            s["resolve"]["p50_us"],
        ]
        for size, s in r["incident_size_10k"].items()
    ]
    print(
        table(
            size_rows,
            [
                "alerts/incident",
                "largest",
                "new p50",
                "new p99",
                "new last10% mean",
                "resend p50",
                "resolve p50",
            ],
        )
    )
    mem = r["memory_10k"]
    rp = r["replay_path_10k"]
    fr = r["gc_freeze_10k"]
    print(
        f"\nreplay path 10k (decode+ingest): {rp['alerts_per_s']:,} alerts/s; "
        f"decode alone {r['decode_10k']['us_per_alert']} µs/alert"
    )
    print(
        f"memory: {mem['bytes_per_active_alert']} B/active alert, "
        f"{mem['bytes_per_open_incident_excl_alert']} B/open incident (excl. its alert)"
    )
    print(
        f"gc.freeze 10k: {fr['alerts_per_s']:,} alerts/s, max pause {fr['gc']['max_pause_ms']} ms "
        f"(without: {r['topologies']['10k']['one_at_a_time_cold']['gc']['max_pause_ms']} ms)"
    )
    print("\ntargets:")
    for name, t in r["targets"].items():
        shown = {k: v for k, v in t.items() if k != "met"}
        print(f"  {'MET    ' if t['met'] else 'NOT MET'} {name}: {shown}")
    if "profile_10k" in r:
        print("\ncProfile 10k, top by own time:")
        for row in r["profile_10k"]["by_tottime"][:10]:
            print(
                f"  {row['tottime_share']:6.1%} own {row['cumtime_share']:6.1%} cum"
                f"  {row['function']}"
            )


if __name__ == "__main__":
    main()
