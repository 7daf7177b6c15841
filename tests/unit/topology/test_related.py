"""`Topology.related`: one node is a dependency of the other within N hops, either way."""

from __future__ import annotations

from topology import load_example


def test_related_follows_dependencies_both_ways_within_the_hop_limit() -> None:
    topo = load_example()
    # crm-db <- crm-web-1 (1 hop); crm-db <- crm-web-1 <- crm (business service, 2 hops)
    assert topo.related("crm-web-1", "crm-db", 1)
    assert topo.related("crm-db", "crm-web-1", 1)
    assert topo.related("crm", "crm-db", 2)
    assert not topo.related("crm", "crm-db", 1)
    # Location rule: Dallas sales reach the Dallas-New York link through the CRM service.
    assert topo.related("sales-dallas", "wan-dallas-nyc", 3)
    # Siblings are not related: neither depends on the other.
    assert not topo.related("crm-web-1", "crm-web-2", 6)
    assert not topo.related("crm-db", "no-such-node", 6)
    assert topo.related("crm-db", "crm-db", 0)
