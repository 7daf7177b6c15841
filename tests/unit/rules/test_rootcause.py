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


def test_a_repeated_ranking_is_reused_only_while_its_inputs_hold(org: Topology) -> None:
    """`rank` keeps its last verdict on the structure: returned again when nothing it reads has
    changed, recomputed (and equal to a ranking from scratch) when something has."""
    alerts = [state("a", "crm-app"), state("b", "reporting-app")]
    index, kept = ranked(org, alerts)
    for a in alerts:
        assert a.node is not None
        kept.add(a.node, index)
    first = rank(org, index, alerts, None, kept)
    assert first.root is not None and first.root.node == "crm-db" and first.root.silent
    assert rank(org, index, alerts, None, kept) is first  # nothing changed: the same verdict
    # The quiet cause starts firing: it is no longer a silent candidate.
    index.set_active("crm-db", +1)
    second = rank(org, index, alerts, None, kept)
    assert second is not first
    assert second == rank(org, index, alerts, None)
    assert second.root is not None and second.root.node != "crm-db"  # the next quiet cause
    # A later, more severe alert on an unexplained node is read too.
    worse = [*alerts, state("c", "reporting-app", severity="critical", starts=-10 * M)]
    third = rank(org, index, worse, None, kept)
    assert third == rank(org, index, worse, None)
    # A new member changes the structure.
    grown = [*worse, state("d", "db-host")]
    index.set_active("db-host", +1)
    kept.add("db-host", index)
    assert rank(org, index, grown, None, kept) == rank(org, index, grown, None)
