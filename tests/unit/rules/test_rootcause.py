from __future__ import annotations

from datetime import timedelta

from correlator.core.settings import GroupingSettings
from correlator.core.state import AlertState
from correlator.rules.grouping import GroupingIndex
from correlator.rules.rootcause import Structure, rank
from tests.unit.rules.conftest import state
from topology import Topology

M = timedelta(minutes=1)


def ranked(org: Topology, alerts: list[AlertState]) -> tuple[GroupingIndex, Structure]:
    index = GroupingIndex(org, GroupingSettings())
    for a in alerts:
        if a.node is not None:
            index.set_active(a.node, +1)
    return index, Structure()


def test_the_cause_wins_whatever_the_arrival_order(org: Topology) -> None:
    alerts = [state("a", "crm-app", starts=0 * M), state("b", "crm-db", starts=5 * M)]
    index, _ = ranked(org, alerts)
    ranking = rank(org, index, alerts, None)
    assert ranking.root is not None
    assert ranking.root.node == "crm-db"
    assert not ranking.root.silent
    assert ranking.root_nodes == ("crm-db",)
    assert [c.node for c in ranking.candidates] == ["crm-app"]  # the others, best first


def test_a_silent_shared_dependency_is_named_with_less_confidence(org: Topology) -> None:
    alerts = [state("a", "crm-app"), state("b", "reporting-app")]
    index, _ = ranked(org, alerts)
    ranking = rank(org, index, alerts, None)
    assert ranking.root is not None
    assert ranking.root.node == "crm-db"
    assert ranking.root.silent
    assert not ranking.root.alerting


def test_a_structure_grown_node_by_node_ranks_like_one_built_at_once(org: Topology) -> None:
    alerts = [state("a", "crm-app"), state("b", "db-host"), state("c", "mail-server")]
    index, grown = ranked(org, alerts)
    for a in reversed(alerts):
        assert a.node is not None
        grown.add(a.node, index)
    assert rank(org, index, alerts, None, grown) == rank(org, index, alerts, None)
    assert grown.unexplained == ["db-host", "mail-server"]


def test_unmapped_alerts_are_named_by_their_grouping_label(org: Topology) -> None:
    alerts = [state("a", None, name="QueueFull"), state("b", None, name="Lag")]
    index, _ = ranked(org, alerts)
    ranking = rank(org, index, alerts, "job=billing")
    assert ranking.root is not None
    assert ranking.root.node is None
    assert ranking.root.kind == "unmapped"
    assert ranking.root.name == "Lag, QueueFull"
    assert "job=billing" in ranking.root.reason
    assert ranking.root_nodes == ()
