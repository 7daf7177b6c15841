"""Shared helpers for the benchmark scripts: machine description, percentiles, result files and
the synthetic alert streams (storms, re-sends, noise, resolutions) on a generated topology.

Streams are kept as plain tuples of strings, dicts of strings and datetimes (objects the cyclic
garbage collector does not track), and `Alert`s are built from them one at a time, as a decoder
would, so that a pre-built stream does not distort the GC measurements.
"""

from __future__ import annotations

import gc
import hashlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from random import Random
from typing import Any

import orjson

from correlator.core.model import Alert, rfc3339
from topology import Topology

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("incident-correlator", "pydantic", "pydantic-core", "orjson", "PyYAML", "networkx")
MACHINE_KINDS = frozenset({"host", "service", "database", "network", "link"})
T0 = datetime(2024, 1, 1, tzinfo=UTC)


# -- machine and results ---------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=RESULTS.parent.parent,
        ).stdout.strip()
        # Uncommitted edits to what is measured make the commit alone a wrong label.
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--", "correlator", "topology"],
                capture_output=True,
                text=True,
                check=False,
                cwd=RESULTS.parent.parent,
            ).stdout.strip()
        )
    except OSError:
        commit, dirty = "", False
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    root = RESULTS.parent.parent
    digest = hashlib.sha256()
    for path in sorted([*root.glob("correlator/**/*.py"), *root.glob("topology/**/*.py")]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    try:
        loadavg = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        loadavg = []
    return {
        "source_sha256_correlator_topology": digest.hexdigest()[:16],
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gb": round(mem_kb / 1048576, 1),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": commit,
        "source_uncommitted_changes": dirty,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        # Other work on this shared machine when the run started (1, 5, 15 minute averages).
        "loadavg_at_start": [float(v) for v in loadavg],
    }


def pin_one_core() -> int | None:
    """Run this process on one core (the last one, or $BENCH_CORE), so 'one core' means one."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    core = int(os.environ.get("BENCH_CORE", cpus[-1]))
    os.sched_setaffinity(0, {core})
    return core


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    tmp.replace(path)
    return path


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def summarise_ns(samples: Sequence[int]) -> dict[str, float]:
    """p50/p90/p99/max/mean in microseconds of nanosecond samples."""
    values = sorted(samples)
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "mean_us": round(sum(values) / len(values) / 1000, 2),
        "p50_us": round(percentile(values, 50) / 1000, 2),
        "p90_us": round(percentile(values, 90) / 1000, 2),
        "p99_us": round(percentile(values, 99) / 1000, 2),
        "p999_us": round(percentile(values, 99.9) / 1000, 2),
        "max_us": round(values[-1] / 1000, 2),
    }


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# -- garbage collection --------------------------------------------------------------------


class GcTimer:
    """Collects every collection's duration through gc.callbacks: wall time (what the process
    stood still for) and CPU time (process_time: the collection's own work; on a shared machine
    the wall figure also counts time spent waiting for a core)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, int, int]] = []
        self._start = self._cpu = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter_ns()
            self._cpu = time.process_time_ns()
        else:
            self.pauses.append(
                (
                    info["generation"],
                    time.perf_counter_ns() - self._start,
                    time.process_time_ns() - self._cpu,
                )
            )

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def summary(self, wall_s: float) -> dict[str, Any]:
        by_gen: dict[str, Any] = {}
        for gen in (0, 1, 2):
            pauses = sorted(d for g, d, _ in self.pauses if g == gen)
            cpu = sorted(c for g, _, c in self.pauses if g == gen)
            by_gen[f"gen{gen}"] = {
                "count": len(pauses),
                "max_ms": round(pauses[-1] / 1e6, 3) if pauses else 0.0,
                "max_cpu_ms": round(cpu[-1] / 1e6, 3) if cpu else 0.0,
                "total_ms": round(sum(pauses) / 1e6, 2),
            }
        all_pauses = [d for _, d, _ in self.pauses]
        return {
            "collections": len(all_pauses),
            "max_pause_ms": round(max(all_pauses, default=0) / 1e6, 3),
            "max_pause_cpu_ms": round(max((c for *_, c in self.pauses), default=0) / 1e6, 3),
            "total_ms": round(sum(all_pauses) / 1e6, 2),
            "share_of_wall": round(sum(all_pauses) / 1e9 / wall_s, 4) if wall_s else 0.0,
            "pauses_over_10ms": sum(1 for d in all_pauses if d > 10_000_000),
            **by_gen,
        }


# -- alerts for topology nodes -----------------------------------------------------------------


def alert_labels(topo: Topology, node: str, alertname: str) -> dict[str, str]:
    """Labels as a Prometheus rule on that kind of node would set them (mapped by the engine's
    own rules: `match` selectors for services, host aliases via `instance`, ids via `service`)."""
    info = topo.nodes[node]
    labels = {"alertname": alertname, "severity": "critical"}
    if info.kind == "host":
        labels["instance"] = f"{node}.example.net:9100"
        labels["job"] = "node-exporter"
    elif info.kind == "service" and not info.aliases:
        labels["service"] = node  # a web pool member
    elif info.kind == "service":
        labels["job"] = node
    elif info.kind == "link":
        labels["topology_node"] = node
    else:
        labels["service"] = node
    return labels


ALERTNAMES = {
    "host": ("HostDown", "HostHighLoad", "DiskFull"),
    "service": ("ServiceDown", "HighErrorRate", "HighLatency"),
    "database": ("DatabaseDown", "ReplicationLag"),
    "network": ("SwitchDown", "InterfaceErrors"),
    "link": ("LinkDown", "PacketLoss"),
}


def fingerprint(labels: dict[str, str]) -> str:
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One alert occurrence: fires at `starts`, re-sent `resends` times, resolves at `ends`."""

    labels: dict[str, str]
    fingerprint: str
    starts: datetime
    ends: datetime
    resend_every: timedelta
    resends: int
    kind: str  # storm-root | storm | noise


#: One event: (event time, fingerprint, status, labels, starts_at, ends_at, role).
Event = tuple[datetime, str, str, dict[str, str], datetime, datetime | None, str]


def to_alert(event: Event) -> Alert:
    _, fp, status, labels, starts, ends, _ = event
    return Alert(
        fingerprint=fp,
        name=labels["alertname"],
        status=status,  # type: ignore[arg-type]
        severity=labels.get("severity", "warning"),
        summary=labels["alertname"],
        source="alertmanager",
        format="alertmanager-alert",
        labels=labels,
        starts_at=starts,
        ends_at=ends,
    )


def to_am_object(event: Event, *, with_status: bool = True) -> dict[str, Any]:
    """The event as an Alertmanager alert object (what Prometheus POSTs to /api/v2/alerts)."""
    _, fp, status, labels, starts, ends, _ = event
    obj: dict[str, Any] = {
        "labels": labels,
        "annotations": {"summary": f"{labels['alertname']} on {next(iter(labels.values()))}"},
        "startsAt": rfc3339(starts),
        "generatorURL": "http://prometheus:9090/graph",
    }
    if status == "resolved":
        obj["endsAt"] = rfc3339(ends)
    if with_status:
        obj["status"] = status
        obj["fingerprint"] = fp
    return obj


@dataclass
class StreamSpec:
    events: int | None = None
    """stop after this many events (None: after `minutes`)"""
    minutes: float | None = None
    """stop starting storms after this much simulated time (their events still follow)"""
    seed: int = 1
    storm_share: float = 0.5
    """share of the root's down set (machine nodes) that alerts in a storm"""
    max_storm: int = 200
    resends: tuple[int, int] = (3, 5)
    """each firing alert is re-sent between these many times before it resolves"""
    resend_every: timedelta = timedelta(seconds=60)
    noise_share: float = 0.15
    """share of alert occurrences that are unrelated single alerts"""
    storm_every: timedelta = timedelta(seconds=120)
    start: datetime = T0
    root_kinds: dict[str, float] = field(
        default_factory=lambda: {
            "host": 0.45,
            "service": 0.25,
            "database": 0.15,
            "network": 0.1,
            "link": 0.05,
        }
    )


def _machine_nodes(topo: Topology) -> dict[str, list[str]]:
    by_kind: dict[str, list[str]] = {}
    for node_id, info in topo.nodes.items():
        if info.kind in MACHINE_KINDS and not node_id.endswith("-core-a"):
            by_kind.setdefault(info.kind, []).append(node_id)
    return by_kind


def occurrences(topo: Topology, spec: StreamSpec) -> Iterator[Occurrence]:
    rng = Random(spec.seed)
    by_kind = _machine_nodes(topo)
    all_machines = [n for nodes in by_kind.values() for n in nodes]
    kinds = [k for k in spec.root_kinds if by_kind.get(k)]
    weights = [spec.root_kinds[k] for k in kinds]
    t = spec.start
    while True:
        t += timedelta(seconds=rng.expovariate(1 / spec.storm_every.total_seconds()))
        if rng.random() < spec.noise_share * 3:  # about 3 storm alerts per noise alert overall
            node = rng.choice(all_machines)
            yield _occurrence(topo, rng, spec, node, t, "noise")
        root = rng.choice(by_kind[rng.choices(kinds, weights)[0]])
        down = [
            n
            for n in sorted(topo.down_set((root,)))
            if n != root and topo.nodes[n].kind in MACHINE_KINDS
        ]
        share = [n for n in down if rng.random() < spec.storm_share]
        members = [root, *share[: spec.max_storm - 1]]
        for i, node in enumerate(members):
            at = t if i == 0 else t + timedelta(seconds=rng.uniform(0, 60))
            yield _occurrence(topo, rng, spec, node, at, "storm-root" if i == 0 else "storm")


def _occurrence(
    topo: Topology, rng: Random, spec: StreamSpec, node: str, at: datetime, kind: str
) -> Occurrence:
    name = rng.choice(ALERTNAMES.get(topo.nodes[node].kind, ("Down",)))
    labels = alert_labels(topo, node, name)
    labels["severity"] = rng.choice(("critical", "critical", "warning"))
    resends = rng.randint(*spec.resends)
    ends = at + spec.resend_every * (resends + 1) + timedelta(seconds=rng.uniform(0, 30))
    return Occurrence(
        labels=labels,
        fingerprint=fingerprint(labels),
        starts=at.replace(microsecond=0),
        ends=ends.replace(microsecond=0),
        resend_every=spec.resend_every,
        resends=resends,
        kind=kind,
    )


def make_stream(topo: Topology, spec: StreamSpec) -> list[Event]:
    """`spec.events` events in time order: firings, re-sends, resolutions of storms and noise.

    A fingerprint is not reused while its previous occurrence is still open (Prometheus keeps
    one alert per label set), so a storm landing on a node already alerting adds nothing."""
    events: list[Event] = []
    open_until: dict[str, datetime] = {}
    budget = spec.events
    horizon = spec.start + timedelta(minutes=spec.minutes) if spec.minutes else None
    for occ in occurrences(topo, spec):
        if budget is not None and len(events) >= budget * 1.05:
            break
        if horizon is not None and occ.starts > horizon:
            break
        until = open_until.get(occ.fingerprint)
        if until is not None and until >= occ.starts:
            continue
        open_until[occ.fingerprint] = occ.ends
        role = occ.kind
        events.append((occ.starts, occ.fingerprint, "firing", occ.labels, occ.starts, None, role))
        for k in range(1, occ.resends + 1):
            at = occ.starts + occ.resend_every * k
            events.append((at, occ.fingerprint, "firing", occ.labels, occ.starts, None, "resend"))
        events.append(
            (occ.ends, occ.fingerprint, "resolved", occ.labels, occ.starts, occ.ends, "resolve")
        )
    events.sort(key=lambda e: e[0])
    return events[:budget] if budget is not None else events


def stream_mix(events: Sequence[Event]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for e in events:
        counts[e[6]] = counts.get(e[6], 0) + 1
    total = max(1, len(events))
    return {k: round(v / total, 3) for k, v in sorted(counts.items())}
