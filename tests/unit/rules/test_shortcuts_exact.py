"""The speed-ups behind grouping and ranking must not change a single answer: each shortcut is
checked against the plain computation it replaces."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from random import Random

import pytest

from correlator.core.model import Candidate, RootCause
from correlator.core.settings import GroupingSettings
from correlator.rules.grouping import GroupingIndex
from correlator.rules.rootcause import _leading, _specific_first
from correlator.rules.verdict import _candidate, _promote
from tests.support.topology_generator import generate_topology
from tests.unit.engine.conftest import T0
from topology import Topology
from topology.walk import CriticalMemo, critical_causes, distances


@cache
def estate() -> Topology:
    # Generated estates have redundancy groups (host pools, paired links, WAN paths), which is
    # where a cut-then-count and a count-then-cut walk could differ.
    return Topology.from_document(generate_topology(300, seed=11, sites=4))


def _candidates(topo: Topology, node: str, hops: int) -> frozenset[int]:
    graph = topo._graph
    base = topo._index[node]
    found = distances(graph, graph.node_vertices[base], hops, graph.down_edges)
    found.pop(base, None)
    return frozenset(found)


@pytest.mark.parametrize("limit", [0, 50, 10_000_000])
def test_shared_critical_sets_give_the_cut_walks_answer(limit: int) -> None:
    topo = estate()
    graph = topo._graph
    memo = CriticalMemo(limit)
    nodes = list(topo.nodes)
    Random(3).shuffle(nodes)  # queries in any order share the memo
    differing = 0
    nonempty = 0
    for node in nodes:
        for hops in (2, 6):
            starts = graph.node_vertices[topo._index[node]]
            candidates = _candidates(topo, node, hops)
            plain = critical_causes(graph, starts, candidates)
            shared = critical_causes(graph, starts, candidates, memo)
            differing += plain != shared
            nonempty += bool(plain)
    assert differing == 0
    assert nonempty > len(nodes) // 2  # the comparison is not vacuous
    if limit == 0:
        assert memo.sets == {}  # past the bound nothing is kept
    if limit == 10_000_000:
        assert memo.entries == sum(len(found) for found in memo.sets.values())


def _index(topo: Topology) -> GroupingIndex:
    return GroupingIndex(topo, GroupingSettings(), background=lambda: 3)


def _plain_unexplained(index: GroupingIndex, cause: str, at: object) -> int:
    """`_unexplained_under` as first written: every node below, every cause of each."""
    below = index.graph.effects(cause, index._hops)
    count = 0
    for node in below:
        if node == cause or node not in index.firing_nodes:
            continue
        if at is not None:
            started = index.onset.get(node)
            if started is not None and abs(started - at) > timedelta(minutes=5):  # type: ignore[operator]
                continue
        if not any(
            other in index.firing_nodes and other != cause and other not in below
            for other in index.causes(node)
        ):
            count += 1
    return count


@pytest.mark.parametrize("share", [0.01, 0.2, 0.9])
def test_unexplained_count_matches_the_plain_walk(share: float) -> None:
    """Few firing nodes (walk the firing set) and many (walk the blast radius) alike."""
    topo = estate()
    index = _index(topo)
    rng = Random(int(share * 100))
    nodes = sorted(topo.nodes)
    for i, node in enumerate(nodes):
        if rng.random() < share:
            index.set_active(node, 1)
            index.note_onset(node, T0 + timedelta(minutes=i % 13))
    assert index.firing_nodes
    causes = [n for n in nodes if index.blast(n) > 1]
    assert causes
    for cause in causes:
        for at in (None, T0, T0 + timedelta(minutes=9)):
            assert index._unexplained_under(cause, at) == _plain_unexplained(index, cause, at)


def test_candidates_built_without_validation_equal_validated_ones() -> None:
    topo = estate()
    node = next(iter(topo.nodes))
    info = topo.nodes[node]
    built = _candidate(topo, node, 1.7, "because", silent=True)
    validated = Candidate(
        node=node,
        name=info.name,
        kind=info.kind,
        confidence=1.0,  # still clamped
        reason="because",
        silent=True,
        alerting=False,
    )
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set
    other = _candidate(topo, node, 0.2, "other")
    root = _promote(built, [other])
    checked = RootCause(**validated.model_dump(), candidates=[other])
    assert root == checked
    assert root.model_fields_set == checked.model_fields_set
    assert root.model_dump(mode="json") == checked.model_dump(mode="json")


class _Pool:
    """A cause index of made-up blast radii and a made-up `below` relation."""

    def __init__(self, rng: Random, names: list[str]) -> None:
        self.sizes = {n: rng.randint(2, 6) for n in names}
        self.under = {n: {m: 1 for m in names if m != n and rng.random() < 0.3} for n in names}

    def blast(self, node: str) -> int:
        return self.sizes[node]

    def causes(self, node: str) -> dict[str, int]:
        return self.under[node]


def test_the_pool_prefix_ranks_like_the_whole_pool() -> None:
    checked = 0
    for seed in range(300):
        rng = Random(seed)
        names = [f"c{i}" for i in range(rng.randint(1, 30))]
        index = _Pool(rng, names)
        pool = tuple((n, rng.randint(2, 5)) for n in names)

        def key(item: tuple[str, int], index: _Pool = index) -> tuple[int, int, str]:
            return (-item[1], index.blast(item[0]), item[0])

        whole = _specific_first(index, sorted(pool, key=key))[:8]  # type: ignore[arg-type]
        part = _specific_first(index, sorted(_leading(pool), key=key))[:8]  # type: ignore[arg-type]
        assert part == whole
        checked += len(_leading(pool)) < len(pool)
    assert checked > 50  # the prefix was in fact shorter in many cases
