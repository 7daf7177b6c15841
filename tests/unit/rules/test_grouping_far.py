"""Grouping through an active cause beyond `max_hops` (`grouping.firing_cause_hops`): a switch's
dependents at the end of long service call chains join its incident instead of opening their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from correlator.core.settings import GroupingSettings
from correlator.rules.grouping import GroupingIndex
from topology import Topology, TopologyDocument

T0 = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
DEPTH = 10


def call_chain() -> Topology:
    """switch <- host <- svc-0 <- svc-1 <- ... <- svc-9, and an unrelated host elsewhere."""
    nodes: list[dict[str, object]] = [
        {"id": "switch", "kind": "network"},
        {"id": "other-switch", "kind": "network"},
        {"id": "host", "kind": "host", "depends_on": ["switch"]},
        {"id": "other-host", "kind": "host", "depends_on": ["other-switch"]},
        {"id": "svc-0", "kind": "service", "depends_on": ["host"]},
    ]
    nodes += [
        {"id": f"svc-{i}", "kind": "service", "depends_on": [f"svc-{i - 1}"]}
        for i in range(1, DEPTH)
    ]
    return Topology.from_document(TopologyDocument.model_validate({"nodes": nodes}))


def firing(index: GroupingIndex, incident: str, node: str, started: datetime) -> None:
    """What the engine does for an alert joining `incident`."""
    index.set_active(node, +1)
    index.note_onset(node, started)
    index.add_member(incident, node)


def test_the_top_of_a_long_chain_joins_the_incident_of_its_alerting_switch() -> None:
    topo = call_chain()
    top = f"svc-{DEPTH - 1}"
    assert topo.causes(top, 24)["switch"] > GroupingSettings().max_hops  # beyond the old reach
    index = GroupingIndex(topo, GroupingSettings())
    firing(index, "INC-SWITCH", "switch", T0)
    index.set_active(top, +1)
    assert index.related_incidents(top, T0 + timedelta(seconds=40)) == {"INC-SWITCH"}
    # An alert the switch would not take down stays apart, however close in time.
    index.set_active("other-host", +1)
    assert index.related_incidents("other-host", T0 + timedelta(seconds=40)) == set()


def test_the_switch_alerting_last_draws_in_the_far_alerts_already_open() -> None:
    index = GroupingIndex(call_chain(), GroupingSettings())
    firing(index, "INC-HOST", "host", T0)  # near: the switch explains it within max_hops
    firing(index, "INC-TOP", f"svc-{DEPTH - 1}", T0 + timedelta(seconds=5))
    index.set_active("switch", +1)
    assert index.related_incidents("switch", T0 + timedelta(seconds=90)) == {"INC-HOST", "INC-TOP"}


def test_onsets_further_apart_than_the_onset_window_are_two_faults() -> None:
    index = GroupingIndex(call_chain(), GroupingSettings())
    firing(index, "INC-SWITCH", "switch", T0)
    top = f"svc-{DEPTH - 1}"
    index.set_active(top, +1)
    assert index.related_incidents(top, T0 + timedelta(minutes=20)) == set()


def test_the_reach_is_a_setting_and_max_hops_alone_is_the_old_rule() -> None:
    index = GroupingIndex(call_chain(), GroupingSettings(firing_cause_hops=6))
    firing(index, "INC-SWITCH", "switch", T0)
    top = f"svc-{DEPTH - 1}"
    index.set_active(top, +1)
    assert index.related_incidents(top, T0 + timedelta(seconds=40)) == set()
    assert index.far_causes(top) == frozenset()
