"""The synthetic organisation generator, and properties of propagation checked on it."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.topology_generator import generate_topology
from topology import Topology
from topology.schema import AnyOf, TopologyDocument
from topology.wan import SiteNetwork


@cache
def small() -> Topology:
    return Topology.from_document(generate_topology(400, seed=7, sites=4))


def test_generated_1k_validates_and_is_layered() -> None:
    topo = Topology.from_document(generate_topology(1000, seed=1))
    assert len(topo) > 2000
    kinds = {info.kind for info in topo.nodes.values()}
    assert {
        "service",
        "database",
        "host",
        "network",
        "link",
        "business_service",
        "user_group",
    } <= kinds
    assert len(topo.sites) == 4
    assert all(info.owner in topo.teams for info in topo.nodes.values())
    assert topo.impact(["dc-0-tor-0"]).nodes


def test_generation_is_deterministic() -> None:
    assert generate_topology(300, seed=3) == generate_topology(300, seed=3)
    assert generate_topology(300, seed=3) != generate_topology(300, seed=4)


def test_down_set_agrees_with_a_naive_fixpoint() -> None:
    """The incremental propagation gives the same answer as re-evaluating everything."""
    topo = small()
    doc = generate_topology(400, seed=7, sites=4)
    every = sorted(topo.nodes)
    cases = [
        ["dc-0-core-a", "dc-0-core-b"],
        ["wan-office-0-dc-0"],
        ["wan-office-0-dc-0", "wan-office-0-dc-0-backup"],
        ["wan-office-1-dc-1"],
        ["host-3", "db-1"],
        ["wan-dc-0-dc-1"],
    ]
    cases += [every[i : i + 3] for i in range(0, len(every), 97)]
    for failed in cases:
        assert topo.down_set(failed) == naive_down_set(doc, topo, set(failed)), failed


def naive_down_set(doc: TopologyDocument, topo: Topology, failed: set[str]) -> set[str]:
    """The location rule evaluated directly: every node from its own site, and site-less nodes from
    the site of whoever reaches them, recursively, remembering every (node, site) verdict."""
    sites = {n.id: n.site for n in doc.nodes}
    by_id = {n.id: n for n in doc.nodes}
    network = SiteNetwork(topo.sites, doc.links)
    verdicts: dict[tuple[str, str | None], bool] = {}

    def up(node_id: str, context: str | None) -> bool:
        key = (node_id, context)
        if key not in verdicts:
            verdicts[key] = _evaluate(node_id, context)
        return verdicts[key]

    def reach(target: str, context: str | None) -> bool:
        target_site = sites.get(target)
        hops = network.path(context, target_site) if context and target_site else ()
        target_up = up(target, context if target_site is None else target_site)
        return target_up and all(any(link not in failed for link in hop) for hop in hops)

    def _evaluate(node_id: str, context: str | None) -> bool:
        node = by_id.get(node_id)
        verdicts_now = [node_id not in failed]
        if node is not None:
            for dep in node.depends_on:
                if isinstance(dep, AnyOf):
                    healthy = [reach(member, context) for member in dep.any_of]
                    verdicts_now.append(sum(healthy) >= dep.min_healthy)
                else:
                    verdicts_now.append(reach(dep, context))
        return all(verdicts_now)

    for node in doc.nodes:
        up(node.id, node.site)
    for link in doc.links:
        up(link.id, None)
    return {node_id for (node_id, _), healthy in verdicts.items() if not healthy}


ids = st.sampled_from(sorted(small().nodes))


@settings(max_examples=60, deadline=None)
@given(st.sets(ids, max_size=6), st.sets(ids, max_size=6))
def test_down_set_contains_failed_and_is_monotone(first: set[str], more: set[str]) -> None:
    topo = small()
    down = topo.down_set(first)
    assert down >= first
    assert topo.down_set(first | more) >= down


@settings(max_examples=40, deadline=None)
@given(ids, st.integers(min_value=0, max_value=6))
def test_causes_and_effects_mirror_each_other(node: str, hops: int) -> None:
    topo = small()
    for cause, distance in topo.causes(node, hops).items():
        assert node in topo.down_set([cause])
        assert topo.effects(cause, hops).get(node) == distance
    for effect, distance in topo.effects(node, hops).items():
        assert topo.causes(effect, hops).get(node) == distance


@settings(max_examples=30, deadline=None)
@given(st.sets(ids, max_size=5))
def test_down_set_matches_the_contract_evaluated_directly(failed: set[str]) -> None:
    doc = generate_topology(400, seed=7, sites=4)
    assert small().down_set(failed) == naive_down_set(doc, small(), failed)
