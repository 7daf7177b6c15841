from __future__ import annotations

import math

import pytest

from correlator.core.settings import GroupingSettings
from correlator.rules.grouping import GroupingIndex, poisson_tail
from topology import Topology


def index_with(org: Topology, members: dict[str, str]) -> GroupingIndex:
    """An index holding `members` (node -> incident id), every one of them firing."""
    index = GroupingIndex(org, GroupingSettings(), background=lambda: len(set(members.values())))
    for node, incident in members.items():
        index.add_member(incident, node)
        index.set_active(node, +1)
    return index


def test_poisson_tail() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(2, 0.0) == 0.0
    assert poisson_tail(1, 1.0) == pytest.approx(1 - math.exp(-1))
    assert poisson_tail(3, 0.1) < poisson_tail(2, 0.1) < poisson_tail(1, 0.1)


def test_an_alert_below_or_above_a_member_relates_to_its_incident(org: Topology) -> None:
    index = index_with(org, {"crm-db": "INC-1"})
    assert index.related_incidents("crm-app") == {"INC-1"}  # crm-db explains it
    assert index.related_incidents("san") == {"INC-1"}  # it explains crm-db
    assert index.related_incidents("dallas-printer") == set()


def test_one_alert_under_a_silent_hub_is_not_enough_to_share_it(org: Topology) -> None:
    index = index_with(org, {"crm-db": "INC-1"})
    assert index.related_incidents("mail-server") == set()  # both sit under nyc-core alone
    assert not index.plausible_silent("nyc-core")


def test_two_members_of_a_redundancy_pool_are_joint_partners(org: Topology) -> None:
    index = index_with(org, {"crm-web-1": "INC-1"})
    assert index.joint_partners("crm-web-2") == {"crm-web-1"}
    assert index.related_incidents("crm-web-2") == {"INC-1"}


def test_a_partner_explained_by_another_fault_is_not_joint(org: Topology) -> None:
    index = index_with(org, {"crm-web-1": "INC-1", "nyc-core": "INC-2"})
    assert index.joint_partners("crm-web-2") == set()


def test_removing_a_member_and_its_activity_forgets_it(org: Topology) -> None:
    index = index_with(org, {"crm-db": "INC-1"})
    index.remove_member("INC-1", "crm-db")
    index.set_active("crm-db", -1)
    assert index.related_incidents("crm-app") == set()
    assert index.firing_nodes == {}
    assert index.alerting_under == {}
