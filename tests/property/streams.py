"""Hypothesis strategies: event streams on the example organisation, as native JSON lines.

A stream is a sequence of steps on a handful of alert fingerprints, each pinned to one topology
node (or to no node: unmapped). A step lets time pass (0-20 minutes, often 0, so equal times are
common) and then does one thing to one fingerprint:

* `fire`: a new occurrence if the alert is not firing, else an Alertmanager-style re-send (same
  `starts_at`, delivered later);
* `resolve`: ends the occurrence if firing, else re-sends the last resolve (or, for an alert
  never seen, a stray resolve that must be ignored);
* `severity`: a firing re-send with a different severity.

Long gaps let hold-downs expire, incidents resolve, reopen and be forgotten; quick fire/resolve
cycles make alerts flap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

import orjson
from hypothesis import strategies as st

from topology import Topology, load_example

T0 = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("fire", "fire", "fire", "resolve", "resolve", "severity")
GAPS = (0, 0, 0, 5, 30, 60, 120, 300, 600, 1200)


@cache
def example() -> Topology:
    return load_example()


@cache
def machine_nodes() -> tuple[str, ...]:
    topo = example()
    return tuple(
        sorted(n for n, i in topo.nodes.items() if i.kind not in ("user_group", "business_service"))
    )


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Alert:
    node: str | None
    severity: str = "critical"
    firing: bool = False
    start: datetime | None = None
    end: datetime | None = None


@dataclass
class Stream:
    lines: list[str]
    fingerprints: dict[str, str | None] = field(default_factory=dict)
    """fingerprint -> node (None: unmapped)"""
    fired: set[str] = field(default_factory=set)
    refired: set[str] = field(default_factory=set)
    """fingerprints with more than one occurrence"""


def _line(fp: str, state: _Alert, status: str, at: datetime) -> str:
    event: dict[str, object] = {
        "source": "prop",
        "fingerprint": fp,
        "status": status,
        "severity": state.severity,
        "name": "Down",
        "summary": f"{fp} down",
        "labels": {"job": f"unknown-{fp}"} if state.node is None else {},
        "timestamp": _iso(at),
    }
    if state.node is not None:
        event["node"] = state.node
    if state.start is not None:
        event["starts_at"] = _iso(state.start)
    return orjson.dumps(event).decode()


def build(nodes: list[str | None], steps: list[tuple[int, int, str, int]]) -> Stream:
    alerts = {f"a{i}": _Alert(node) for i, node in enumerate(nodes)}
    stream = Stream(lines=[], fingerprints={fp: a.node for fp, a in alerts.items()})
    now = T0
    for gap, which, action, sev in steps:
        now += timedelta(seconds=gap)
        fp = f"a{which % len(alerts)}"
        state = alerts[fp]
        if action == "fire" or (action == "severity" and not state.firing):
            if not state.firing:
                if state.start is not None:
                    stream.refired.add(fp)
                state.firing, state.start, state.end = True, now, None
                stream.fired.add(fp)
            stream.lines.append(_line(fp, state, "firing", now))
        elif action == "severity":
            state.severity = SEVERITIES[sev % len(SEVERITIES)]
            stream.lines.append(_line(fp, state, "firing", now))
        elif state.firing:
            state.firing, state.end = False, now
            stream.lines.append(_line(fp, state, "resolved", now))
        elif state.end is not None:
            stream.lines.append(_line(fp, state, "resolved", state.end))
        else:
            stream.lines.append(_line(fp, state, "resolved", now))  # never fired: stray
    return stream


NODE = st.one_of(st.sampled_from(machine_nodes()), st.none())
STEP = st.tuples(
    st.sampled_from(GAPS),
    st.integers(0, 7),
    st.sampled_from(ACTIONS),
    st.integers(0, 3),
)


@st.composite
def streams(draw: st.DrawFn, max_steps: int = 60, *, refire: bool = True) -> Stream:
    nodes = draw(st.lists(NODE, min_size=2, max_size=8))
    steps = draw(st.lists(STEP, min_size=5, max_size=max_steps))
    if not refire:
        # Each alert fires once (re-sends allowed) and may resolve; it never fires again.
        seen_end: set[int] = set()
        kept = []
        for gap, which, action, sev in steps:
            key = which % len(nodes)
            if action in ("fire", "severity") and key in seen_end:
                continue
            if action == "resolve":
                seen_end.add(key)
            kept.append((gap, which, action, sev))
        steps = kept
    return build(nodes, steps)
