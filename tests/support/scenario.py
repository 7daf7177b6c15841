"""Inputs for the worker tests: a two-domain organisation, generated outages, bad messages, and
the comparison with `correlator replay` that every worker test ends with."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from correlator.core.model import IncidentRecord
from correlator.core.settings import BoundSettings, EngineSettings
from correlator.demo.kafka import replay_receive_times
from correlator.replay import final_states, replay_lines
from topology import Topology, load_topology

#: Two data centres that share nothing: two topology domains, so two engines (usually on two
#: repartition partitions) handle them.
TWO_DOMAIN_ORG = """
sites:
  - {id: east-dc, name: East data centre}
  - {id: west-dc, name: West data centre}
teams:
  - {id: net, name: Network, contact: net@example.com}
  - {id: dba, name: Databases, contact: dba@example.com}
  - {id: app, name: Applications, contact: app@example.com}
nodes:
  - {id: core-e, kind: network, name: East core switch, owner: net, site: east-dc}
  - {id: db-e, kind: database, name: East database, owner: dba, site: east-dc,
     depends_on: [core-e]}
  - {id: web-e1, kind: host, name: East web 1, owner: app, site: east-dc, depends_on: [core-e]}
  - {id: web-e2, kind: host, name: East web 2, owner: app, site: east-dc, depends_on: [core-e]}
  - {id: app-e, kind: service, name: East app, owner: app, site: east-dc,
     depends_on: [db-e, {any_of: [web-e1, web-e2], min_healthy: 1}]}
  - {id: users-e, kind: user_group, name: East staff, site: east-dc, users: 200,
     depends_on: [app-e]}
  - {id: core-w, kind: network, name: West core switch, owner: net, site: west-dc}
  - {id: db-w, kind: database, name: West database, owner: dba, site: west-dc,
     depends_on: [core-w]}
  - {id: web-w1, kind: host, name: West web 1, owner: app, site: west-dc, depends_on: [core-w]}
  - {id: web-w2, kind: host, name: West web 2, owner: app, site: west-dc, depends_on: [core-w]}
  - {id: app-w, kind: service, name: West app, owner: app, site: west-dc,
     depends_on: [db-w, {any_of: [web-w1, web-w2], min_healthy: 1}]}
  - {id: users-w, kind: user_group, name: West staff, site: west-dc, users: 80,
     depends_on: [app-w]}
defaults: {cost_per_user_hour: 50, currency: USD}
"""

T0 = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)

#: A fault on a root node and the alerts it causes downstream.
FAULTS: dict[str, tuple[str, ...]] = {
    "core": ("core", "web1", "web2", "db", "app"),
    "db": ("db", "app"),
    "web1": ("web1",),
    "webs": ("web1", "web2", "app"),
}
_NODE = {"core": "core", "db": "db", "web1": "web-{s}1", "web2": "web-{s}2", "app": "app"}


def node_id(part: str, side: str) -> str:
    template = _NODE[part]
    return template.format(s=side) if "{s}" in template else f"{template}-{side}"


def write_org(directory: Path, text: str = TWO_DOMAIN_ORG, name: str = "org.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def _ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _webhook(alerts: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {
            "version": "4",
            "groupKey": "{}:{}",
            "status": "resolved" if all(a["status"] == "resolved" for a in alerts) else "firing",
            "receiver": "correlator",
            "alerts": alerts,
        }
    )


def _am(name: str, node: str, start: datetime, end: datetime | None) -> dict[str, Any]:
    return {
        "status": "resolved" if end is not None else "firing",
        "labels": {"alertname": name, "topology_node": node, "severity": "critical"},
        "annotations": {"summary": f"{name} on {node}"},
        "startsAt": _ts(start),
        "endsAt": _ts(end) if end is not None else "0001-01-01T00:00:00Z",
    }


def _native(name: str, node: str, at: datetime, status: str, started: datetime) -> bytes:
    event: dict[str, Any] = {
        "source": "nagios",
        "fingerprint": f"{name}-{node}-{_ts(started)}",
        "status": status,
        "severity": "critical",
        "node": node,
        "name": name,
        "summary": f"{name} on {node}",
        "timestamp": _ts(at),
    }
    if status == "resolved":
        event["starts_at"] = _ts(started)
    return orjson.dumps(event)


def outages(
    seed: int, faults: int, *, gap: timedelta = timedelta(minutes=60), tail: bool = True
) -> list[bytes]:
    """`faults` outages, alternating at random between the two domains, in time order. Each
    fault fires its root, then its dependents (as Alertmanager or native events), Alertmanager
    re-sends, and all clear ten minutes on; consecutive faults are `gap` apart (beyond the
    hold-down and reopen windows, so each fault is one incident whatever the partitioning).

    With `tail`, a watchdog alert fires in each domain two hours after the last fault: each
    engine's clock then passes every hold-down by event time, so the worker's final state is
    replay's without waiting for idle ticks (each domain's engine only sees its own events)."""
    rng = random.Random(seed)
    lines: list[bytes] = []
    for i in range(faults):
        side = rng.choice("ew")
        kind = rng.choice(sorted(FAULTS))
        start = T0 + i * gap
        webhook: list[tuple[str, str, datetime]] = []
        native: list[tuple[str, str, datetime]] = []
        for j, part in enumerate(FAULTS[kind]):
            node = node_id(part, side)
            at = start + timedelta(seconds=20 * j)
            name = f"Down{i}" if j == 0 else f"Degraded{i}"
            if rng.random() < 0.5:
                webhook.append((name, node, at))
                lines.append(_webhook([_am(name, node, at, None)]))
            else:
                native.append((name, node, at))
                lines.append(_native(name, node, at, "firing", at))
        if webhook:  # Alertmanager re-sends the group: nothing new
            lines.append(_webhook([_am(n, node, at, None) for n, node, at in webhook]))
        end = start + timedelta(minutes=10)
        if webhook:
            lines.append(_webhook([_am(n, node, at, end) for n, node, at in webhook]))
        for k, (name, node, at) in enumerate(native):
            lines.append(_native(name, node, end + timedelta(seconds=5 + k), "resolved", at))
    if tail:
        last = T0 + faults * gap + timedelta(hours=2)
        for side in "ew":
            node = node_id("core", side)
            lines.append(_native("Watchdog", node, last, "firing", last))
    return lines


#: One message of each kind that must be dead-lettered, by the expected reason code.
BAD_MESSAGES: dict[str, bytes] = {
    "not_json": b"this is { not json",
    "unknown_shape": b'{"hello": "world"}',
    "bad_timestamp": orjson.dumps(
        {
            "source": "nagios",
            "fingerprint": "x",
            "status": "firing",
            "node": "db-e",
            "name": "Down",
            "timestamp": "yesterday at noon",
        }
    ),
    "too_large": orjson.dumps(
        {
            "source": "nagios",
            "name": "Big",
            "node": "db-e",
            "timestamp": _ts(T0),
            "summary": "x" * 300_000,
        }
    ),
}
#: The decoder limit the tests configure, so that `too_large` is over it and the rest under.
TEST_MAX_MESSAGE_BYTES = 100_000


def with_bad_messages(lines: Sequence[bytes], seed: int) -> list[bytes]:
    """`lines` with every bad message inserted at a random place."""
    rng = random.Random(seed)
    out = list(lines)
    for bad in BAD_MESSAGES.values():
        out.insert(rng.randrange(len(out) + 1), bad)
    return out


def stamped(lines: Sequence[bytes]) -> list[tuple[bytes, int]]:
    """Lines with the Kafka timestamps that make the worker decode them as replay does."""
    return list(zip(lines, replay_receive_times(lines), strict=True))


#: Engine bounds for the scenarios: their times are fixed, so they may lie ahead of the wall
#: clock on the day a test runs; nothing may be skipped for that (`bounds.max_future`).
SCENARIO_BOUNDS: dict[str, str] = {"max_future": "36500d"}


def expected_final(
    topology: Topology | Path,
    lines: Iterable[bytes],
    settings: EngineSettings | None = None,
    *,
    drain: bool = True,
) -> dict[str, IncidentRecord]:
    topo = topology if isinstance(topology, Topology) else load_topology(topology)
    settings = (settings or EngineSettings()).model_copy(
        update={"bounds": BoundSettings.model_validate(SCENARIO_BOUNDS)}
    )
    good = [line for line in lines if line not in BAD_MESSAGES.values()]
    return final_states(replay_lines(topo, settings, good, drain=drain))


def latest(records: Iterable[IncidentRecord]) -> dict[str, IncidentRecord]:
    return final_states(records)


def assert_same_incidents(
    got: Mapping[str, IncidentRecord], want: Mapping[str, IncidentRecord]
) -> None:
    """Same incidents, each in the same final state (every field of the record)."""
    assert sorted(got) == sorted(want), (
        f"incident ids differ: only worker {sorted(set(got) - set(want))}, "
        f"only replay {sorted(set(want) - set(got))}"
    )
    for inc_id, record in want.items():
        mine = got[inc_id].model_dump(mode="json")
        theirs = record.model_dump(mode="json")
        assert mine == theirs, f"{inc_id}: worker v{mine['version']} != replay v{theirs['version']}"
