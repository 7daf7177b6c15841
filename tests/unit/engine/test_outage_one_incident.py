"""A rack outage on generated topologies other than the update-stream benchmark's: with the
switch alerting first, the desk sees one incident from the first alert, never pieces of it that
are merged later (`grouping.firing_cause_hops`)."""

from __future__ import annotations

from datetime import timedelta
from random import Random

import pytest

from correlator.core import Correlator
from correlator.wire.render.record import build_record
from tests.support.topology_generator import generate_topology
from tests.unit.engine.conftest import T0, alert
from topology import Topology

MACHINES = frozenset({"host", "service", "database", "storage", "network"})


def largest_switch(topo: Topology) -> tuple[str, list[str]]:
    best: tuple[str, list[str]] = ("", [])
    for node, info in sorted(topo.nodes.items()):
        if info.kind != "network":
            continue
        down = sorted(
            n for n in topo.down_set((node,)) if n != node and topo.nodes[n].kind in MACHINES
        )
        if len(down) > len(best[1]):
            best = (node, down)
    return best


@pytest.mark.parametrize(("services", "seed"), [(600, 4), (900, 23)])
def test_a_switch_outage_publishes_one_incident(services: int, seed: int) -> None:
    topo = Topology.from_document(generate_topology(services, seed))
    switch, down = largest_switch(topo)
    deepest = max(topo.causes(n, 64).get(switch, 0) for n in down)
    assert deepest > 6  # some of its dependents lie beyond `max_hops` of it
    rng = Random(seed)
    alerts = [alert("switch", switch, timedelta(0))]
    alerts += [alert(n, n, timedelta(seconds=rng.randint(1, 120))) for n in down]
    alerts.sort(key=lambda a: a.event_time)
    engine = Correlator(topo, render=build_record)
    records = [u.record for a in alerts for u in engine.ingest(a, a.event_time)]
    records += [u.record for u in engine.tick(T0 + timedelta(minutes=5))]
    assert {r.id for r in records} == {records[0].id}
    assert records[0].root_cause is not None and records[0].root_cause.node == switch
    assert records[-1].alerts_total == len(alerts)
    assert records[-1].root_cause is not None and records[-1].root_cause.node == switch
