"""Fault scenarios with known ground truth, generated from a topology.

The monitoring model is deliberately independent of the engine: it uses nothing but the
topology's own failure semantics (docs/formats.md; `Topology.down_set` / `impact` / `causes`).

* A fault at root `r` takes down exactly `topology.down_set({r})`.
* Every affected *machine* node (anything but user groups and business services) is monitored
  with probability `p` (drawn per scenario from `monitor_range`); a monitored node raises one
  alert (sometimes two) after a random delay, so symptoms often fire before their cause.
* The root's own alert fires after a random delay too (0-120 s); in "late root" faults it is
  forced to fire after every symptom.
* A *silent* root raises no alert; only its dependents do. A silent fault is kept only when the
  root is identifiable from what fires: at least two alerting nodes, no alerting node explains
  all the others, and every other node whose single failure would explain all of them has a
  strictly larger blast radius (it is a cause of `r`, not a parallel alternative).
* Alertmanager-style re-sends: same fingerprint, same `startsAt`, delivered later.
* Overlapping faults (2-3 at once) sit in different parts of the graph: their machine blast
  radii are disjoint, they do not interact (no redundancy group exhausted jointly), and their
  roots have no common single-failure cause.
* Noise: single alerts on machine nodes that are unrelated to every concurrent fault in the same
  sense, and to each other.
* Resolutions come later: the root first, its symptoms after it; noise clears on its own.

Events are emitted as JSON lines in delivery order, mixing the native format and single
Alertmanager alert objects (mapped through the `service` label, docs/formats.md, inputs rule 3).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from random import Random

import orjson

from tests.support.topology_generator import generate_topology
from topology import Topology, load_example

#: Node kinds that are not machines: they never raise alerts of their own.
NON_MACHINE = frozenset({"user_group", "business_service"})
#: Ground-truth reach of `causes`: effectively unlimited (the engine has its own max_hops).
FULL_HOPS = 1_000
T0 = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)

ALERT_NAMES = {
    "host": ("HostDown", "NodeExporterDown"),
    "service": ("ServiceDown", "HighErrorRate"),
    "database": ("PostgresDown", "ReplicationLag"),
    "network": ("InterfaceDown", "PacketLoss"),
    "link": ("LinkDown", "BGPSessionDown"),
    "storage": ("ArrayDegraded", "IOLatencyHigh"),
}
NOISE_NAMES = ("DiskSpaceLow", "CertificateExpiresSoon", "HighCPU", "NTPDrift")


@dataclass(frozen=True, slots=True)
class Profile:
    """The knobs of one scenario family."""

    faults_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)  # 1, 2 or 3 concurrent faults
    silent_share: float = 0.2
    late_root_share: float = 0.2
    noise_range: tuple[int, int] = (0, 3)
    monitor_range: tuple[float, float] = (0.6, 0.9)
    double_alert_share: float = 0.2
    resend_share: float = 0.5
    alertmanager_share: float = 0.5
    by_kind: bool = True
    """Pick a root kind uniformly first, then a node of that kind (else uniform over nodes)."""
    shared_ok: bool = False
    """Concurrent faults (and noise) may share a single-failure cause (a core switch, an array)
    as long as they cover at most `shared_max_share` of what that cause would take down: unrelated
    faults under shared infrastructure."""
    shared_max_share: float = 0.34
    unmonitored_share: float = 0.0
    """Share of machine nodes that never alert (no monitoring), fixed per node id."""
    spread_s: float = 300.0
    """Faults begin within this many seconds of each other."""


EXAMPLE_PROFILE = Profile(noise_range=(0, 3))
LARGE_PROFILE = Profile(noise_range=(2, 10))
#: Shared infrastructure: concurrent faults close in time under a common switch or array, 10% of
#: nodes without monitoring, and thinner monitoring of the rest.
SHARED_PROFILE = Profile(
    faults_weights=(0.35, 0.4, 0.25),
    noise_range=(1, 5),
    monitor_range=(0.55, 0.9),
    shared_ok=True,
    unmonitored_share=0.1,
    spread_s=120.0,
)


@dataclass(frozen=True, slots=True)
class Fault:
    root: str
    silent: bool
    late_root: bool
    down: frozenset[str]
    fingerprints: frozenset[str]
    root_fingerprints: frozenset[str]
    users: int
    """expected head count: `topology.impact({root}).users`"""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    seed: int
    faults: tuple[Fault, ...]
    noise: tuple[str, ...]
    """fingerprints of noise alerts; each is its own group"""
    nodes: dict[str, str]
    """fingerprint -> node"""
    lines: tuple[str, ...] = field(repr=False)

    @property
    def groups(self) -> list[frozenset[str]]:
        """The true partition of every alert fingerprint."""
        return [f.fingerprints for f in self.faults] + [frozenset({n}) for n in self.noise]

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(self.nodes)


@dataclass(slots=True)
class _Event:
    deliver: datetime
    seq: int
    payload: dict[str, object]


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ScenarioGenerator:
    """Scenarios on one topology. Deterministic: `scenario(seed)` always gives the same one."""

    def __init__(self, topology: Topology, profile: Profile | None = None, label: str = "topo"):
        self.topology = topology
        self.profile = profile or Profile()
        self.label = label
        self.machines: tuple[str, ...] = tuple(
            sorted(n for n, info in topology.nodes.items() if info.kind not in NON_MACHINE)
        )
        by_kind: dict[str, list[str]] = {}
        for node in self.machines:
            by_kind.setdefault(topology.nodes[node].kind, []).append(node)
        self._by_kind = {k: tuple(v) for k, v in sorted(by_kind.items())}
        self._down: dict[str, frozenset[str]] = {}
        self._causes: dict[str, frozenset[str]] = {}
        share = self.profile.unmonitored_share
        self.unmonitored: frozenset[str] = frozenset(
            n
            for n in self.machines
            if share
            and int.from_bytes(hashlib.blake2b(n.encode(), digest_size=4).digest()) < share * 2**32
        )

    # -- ground-truth graph helpers (topology semantics only) ---------------------------------

    def machine_down(self, roots: Iterable[str]) -> frozenset[str]:
        key = frozenset(roots)
        if len(key) == 1:
            (only,) = key
            cached = self._down.get(only)
            if cached is not None:
                return cached
        nodes = self.topology.nodes
        down = frozenset(n for n in self.topology.down_set(key) if nodes[n].kind not in NON_MACHINE)
        if len(key) == 1:
            self._down[next(iter(key))] = down
        return down

    def causes(self, node: str) -> frozenset[str]:
        """Every node whose single failure takes `node` down (itself excluded)."""
        found = self._causes.get(node)
        if found is None:
            found = frozenset(self.topology.causes(node, FULL_HOPS)) - {node}
            self._causes[node] = found
        return found

    def independent(self, a: str, b: str) -> bool:
        """Faults at `a` and `b` are in different parts of the graph."""
        da, db = self.machine_down([a]), self.machine_down([b])
        if da & db:
            return False
        topo = self.topology
        if topo.down_set([a, b]) != topo.down_set([a]) | topo.down_set([b]):
            return False  # jointly they take down something neither takes down alone
        shared = self.causes(a) & self.causes(b)
        if not self.profile.shared_ok:
            return not shared
        # Under shared infrastructure, unrelated faults are fine as long as together they are a
        # small part of what the common cause would break (else the cause is the better story).
        both = len(da | db)
        limit = self.profile.shared_max_share
        return all(both <= limit * len(self.machine_down([c])) for c in shared)

    # -- sampling -------------------------------------------------------------------------------

    def _pick_root(self, rng: Random) -> str:
        if self.profile.by_kind:
            kind = rng.choice(list(self._by_kind))
            return rng.choice(self._by_kind[kind])
        return rng.choice(self.machines)

    def _silent_alerting(self, rng: Random, root: str, p: float) -> list[str] | None:
        """Monitored nodes of a silent fault at `root`, if some draw makes `root` identifiable."""
        down = sorted(self.machine_down([root]) - {root} - self.unmonitored)
        if len(down) < 2:
            return None
        for _ in range(20):
            alerting = [n for n in down if rng.random() < p]
            if self.silent_identifiable(root, alerting):
                return alerting
        return None

    def silent_identifiable(self, root: str, alerting: Iterable[str]) -> bool:
        alerting = set(alerting)
        if len(alerting) < 2 or root in alerting:
            return False
        common: set[str] | None = None
        for node in alerting:
            reach = self.causes(node) | {node}
            common = set(reach) if common is None else common & reach
        assert common is not None
        if common & alerting:
            return False  # one alerting node explains all the others: root is not visible
        if root not in common:
            return False
        mine = self.machine_down([root])
        return all(mine < self.machine_down([c]) for c in common if c != root)

    def scenario(self, seed: int) -> Scenario:
        rng = Random(f"{self.label}:{seed}")
        prof = self.profile
        n_faults = rng.choices((1, 2, 3), weights=prof.faults_weights)[0]
        p = rng.uniform(*prof.monitor_range)

        roots: list[str] = []
        silent_flags: list[bool] = []
        alerting_by_fault: list[list[str]] = []
        attempts = 0
        while len(roots) < n_faults and attempts < 400:
            attempts += 1
            root = self._pick_root(rng)
            if any(not self.independent(root, other) for other in roots):
                continue
            silent = rng.random() < prof.silent_share or root in self.unmonitored
            if silent:
                picked = self._silent_alerting(rng, root, p)
                if picked is None:
                    continue
                alerting = picked
            else:
                down = sorted(self.machine_down([root]) - {root} - self.unmonitored)
                alerting = [root] + [n for n in down if rng.random() < p]
            roots.append(root)
            silent_flags.append(silent)
            alerting_by_fault.append(alerting)

        n_noise = rng.randint(*prof.noise_range)
        noise_nodes: list[str] = []
        attempts = 0
        while len(noise_nodes) < n_noise and attempts < 400:
            attempts += 1
            node = rng.choice(self.machines)
            if (
                node in self.unmonitored
                or node in noise_nodes
                or any(not self.independent(node, other) for other in (*roots, *noise_nodes))
            ):
                continue
            noise_nodes.append(node)

        events: list[_Event] = []
        nodes_of: dict[str, str] = {}
        seq = 0

        def fingerprint(node: str, name: str, salt: str) -> str:
            raw = f"{self.label}|{seed}|{salt}|{node}|{name}"
            return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()

        def emit(
            fp: str, node: str, name: str, severity: str, start: datetime, end: datetime
        ) -> None:
            nonlocal seq
            nodes_of[fp] = node
            alertmanager = rng.random() < prof.alertmanager_share
            first = start + timedelta(seconds=rng.uniform(0, 15))
            deliveries = [first]
            if rng.random() < prof.resend_share:
                at = first
                for _ in range(rng.randint(1, 3)):
                    at += timedelta(seconds=rng.uniform(30, 300))
                    if at >= end:
                        break
                    deliveries.append(at)
            for when in deliveries:
                seq += 1
                events.append(
                    _Event(
                        when,
                        seq,
                        _payload(alertmanager, fp, node, name, severity, start, None, when),
                    )
                )
            resolves = [end]
            if rng.random() < 0.3:
                resolves.append(end + timedelta(seconds=rng.uniform(30, 120)))  # resolved re-sent
            for when in resolves:
                seq += 1
                events.append(
                    _Event(
                        when,
                        seq,
                        _payload(alertmanager, fp, node, name, severity, start, end, when),
                    )
                )

        faults: list[Fault] = []
        for index, (root, silent, alerting) in enumerate(
            zip(roots, silent_flags, alerting_by_fault, strict=True)
        ):
            begin = T0 + timedelta(seconds=rng.uniform(0, prof.spread_s))
            finish = begin + timedelta(minutes=rng.uniform(10, 40))
            late = not silent and len(alerting) > 1 and rng.random() < prof.late_root_share
            symptom_delay = {n: rng.uniform(0, 120) for n in alerting if n != root}
            if late:
                root_delay = max(symptom_delay.values()) + rng.uniform(5, 60)
            else:
                root_delay = rng.uniform(0, 120)
            fps: set[str] = set()
            root_fps: set[str] = set()
            for node in alerting:
                kind = self.topology.nodes[node].kind
                names = ALERT_NAMES.get(kind, ("Down", "Unhealthy"))
                count = 2 if rng.random() < prof.double_alert_share else 1
                is_root = node == root
                delay = root_delay if is_root else symptom_delay[node]
                for k in range(count):
                    name = names[k]
                    fp = fingerprint(node, name, f"fault{index}")
                    start = begin + timedelta(seconds=delay + 20 * k)
                    if is_root:
                        end = finish + timedelta(seconds=rng.uniform(0, 30))
                        severity = "critical"
                        root_fps.add(fp)
                    else:
                        end = finish + timedelta(seconds=rng.uniform(40, 180))
                        severity = rng.choice(("critical", "error", "warning"))
                    emit(fp, node, name, severity, start, max(end, start + timedelta(seconds=30)))
                    fps.add(fp)
            faults.append(
                Fault(
                    root=root,
                    silent=silent,
                    late_root=late,
                    down=self.topology.down_set([root]),
                    fingerprints=frozenset(fps),
                    root_fingerprints=frozenset(root_fps),
                    users=self.topology.impact([root]).users,
                )
            )

        noise_fps: list[str] = []
        for node in noise_nodes:
            name = rng.choice(NOISE_NAMES)
            fp = fingerprint(node, name, "noise")
            start = T0 + timedelta(seconds=rng.uniform(0, 900))
            end = start + timedelta(minutes=rng.uniform(1, 10))
            emit(fp, node, name, rng.choice(("warning", "info", "error")), start, end)
            noise_fps.append(fp)

        events.sort(key=lambda e: (e.deliver, e.seq))
        lines = tuple(orjson.dumps(e.payload).decode() for e in events)
        return Scenario(
            name=f"{self.label}-{seed}",
            seed=seed,
            faults=tuple(faults),
            noise=tuple(noise_fps),
            nodes=nodes_of,
            lines=lines,
        )

    def batch(self, count: int, first_seed: int = 0) -> list[Scenario]:
        return [self.scenario(first_seed + i) for i in range(count)]


def _payload(
    alertmanager: bool,
    fp: str,
    node: str,
    name: str,
    severity: str,
    start: datetime,
    end: datetime | None,
    delivered: datetime,
) -> dict[str, object]:
    status = "firing" if end is None else "resolved"
    summary = f"{name} on {node}"
    if alertmanager:
        return {
            "labels": {"alertname": name, "severity": severity, "service": node},
            "annotations": {"summary": summary},
            "status": status,
            "startsAt": _iso(start),
            "endsAt": _iso(end) if end is not None else "0001-01-01T00:00:00Z",
            "fingerprint": fp,
            "generatorURL": "http://prometheus.example.com/graph",
        }
    return {
        "source": "scenario",
        "fingerprint": fp,
        "status": status,
        "severity": severity,
        "node": node,
        "name": name,
        "summary": summary,
        "labels": {},
        "starts_at": _iso(start),
        "timestamp": _iso(end if end is not None else delivered),
    }


@dataclass
class Topologies:
    """The topologies the quality suite runs on, built once per process."""

    large_services: int = 1000
    large_seed: int = 7

    @cached_property
    def example(self) -> Topology:
        return load_example()

    @cached_property
    def large(self) -> Topology:
        return Topology.from_document(generate_topology(self.large_services, self.large_seed))
