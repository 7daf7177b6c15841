"""The site network: which links a dependency between two sites travels over (location rule).

Paths are shortest by hop count over the undirected graph of sites and links. Ties are broken
deterministically: the site graph is built in sorted order, and the path between A and B is
always computed from the smaller id and reversed if needed, so A->B and B->A use the same links.
Several links joining the same two sites are parallel (redundant) links: that hop of the path is
up while any of them is up.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

import networkx as nx

from topology.schema import Link

Hop = tuple[str, ...]
"""The link ids (sorted) joining two consecutive sites of a path; more than one means parallel."""


class SiteNetwork:
    """Shortest paths between sites over `links`, computed on demand and remembered."""

    __slots__ = ("_graph", "_hops", "_paths")

    def __init__(self, sites: Iterable[str], links: Iterable[Link]) -> None:
        graph = nx.Graph()
        graph.add_nodes_from(sorted(sites))
        hops: dict[tuple[str, str], list[str]] = {}
        for link in links:
            a, b = sorted(link.between)
            if a != b:
                hops.setdefault((a, b), []).append(link.id)
        for a, b in sorted(hops):
            graph.add_edge(a, b)
        self._graph = graph
        self._hops: dict[tuple[str, str], Hop] = {
            pair: tuple(sorted(ids)) for pair, ids in hops.items()
        }
        self._paths: dict[tuple[str, str], tuple[Hop, ...]] = {}

    def path(self, a: str, b: str) -> tuple[Hop, ...]:
        """The hops between sites `a` and `b`; empty when a == b, or unreachable, or unknown."""
        if a == b:
            return ()
        key = (a, b) if a < b else (b, a)
        found = self._paths.get(key)
        if found is None:
            found = self._compute(*key)
            self._paths[key] = found
        return found

    def _compute(self, a: str, b: str) -> tuple[Hop, ...]:
        try:
            sites: list[str] = nx.shortest_path(self._graph, a, b)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            # Unreachable sites: the contract asks for no link dependency rather than a crash.
            return ()
        return tuple(self._hops[(x, y) if x < y else (y, x)] for x, y in pairwise(sites))
