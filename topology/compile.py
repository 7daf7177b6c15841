"""Compiles validated documents into the flat, integer-indexed graph the queries run on.

The location rule (docs/formats.md) is applied here, by expanding the declared graph into a graph of
*vertices*:

* Every node has a home vertex, evaluated at its own site (or at no site when it has none).
* A dependency from context site A onto a node at site B != A also needs every link of the
  shortest A-B path. The links are attached to that one dependency: inside an `any_of` group the
  path belongs to the member, so a member is healthy only while it and its path links are up.
* A node without a site (a business service, say) is evaluated *per consumer site*: when a node
  at site A depends on it, the dependency goes to a copy of it evaluated from A, whose own
  dependencies then get A's path links. So a site-less CRM used from Dallas and New York is down
  for Dallas and up for New York when the Dallas-New York link fails. A copy is only made when it
  could differ from the home vertex (some site it reaches, through site-less nodes, lies across a
  link from A); otherwise the home vertex serves.
* Parallel links (several links joining the same two sites) are one redundant hop: a synthetic
  vertex, up while any of its links is up, that maps to no node in any output.

Outputs map vertices back to node ids: a node is down when any of its vertices is down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from topology.errors import Problem, TopologyError
from topology.schema import AnyOf, Link, Node
from topology.wan import Hop, SiteNetwork

SYNTHETIC = -1
"""The node index of a vertex that stands for no node (a redundant hop of parallel links)."""

Group = tuple[tuple[tuple[int, ...], ...], int]
"""(members, min_healthy); each member is the vertices that must all be up for it to count."""

_Declared = tuple[tuple[int, ...], tuple[tuple[tuple[int, ...], int], ...]]
"""A node's declared dependencies by node index: (plain, ((members, min_healthy), ...))."""


@dataclass(frozen=True, slots=True)
class CompiledGraph:
    """Parallel arrays indexed by vertex; vertex i < len(node_ids) is node i's home vertex."""

    node_ids: tuple[str, ...]
    vertex_node: tuple[int, ...]
    plain: tuple[tuple[int, ...], ...]
    groups: tuple[tuple[Group, ...], ...]
    down_edges: tuple[tuple[int, ...], ...]
    """Every vertex a vertex depends on, plain or group member or path link, deduplicated."""
    up_edges: tuple[tuple[int, ...], ...]
    up_plain: tuple[tuple[int, ...], ...]
    """Dependents that need the vertex outright (a plain dependency): down when it is down."""
    up_grouped: tuple[tuple[int, ...], ...]
    """Dependents that have the vertex only in a redundancy group: they need re-judging."""
    rank: tuple[int, ...]
    """Topological position: dependencies rank lower than their dependents."""
    node_vertices: tuple[tuple[int, ...], ...]
    """A node's vertices: home first, then its per-site copies."""
    node_dependencies: tuple[tuple[int, ...], ...]
    """Node-level effective edges (declared plus location-rule links), in declaration order."""
    node_dependents: tuple[tuple[int, ...], ...]


def compile_graph(
    nodes: Sequence[Node], links: Sequence[Link], network: SiteNetwork
) -> CompiledGraph:
    return _Compiler(nodes, links, network).run()


class _Compiler:
    def __init__(self, nodes: Sequence[Node], links: Sequence[Link], network: SiteNetwork) -> None:
        self.network = network
        self.ids: list[str] = [node.id for node in nodes] + [link.id for link in links]
        self.index = {node_id: i for i, node_id in enumerate(self.ids)}
        self.site: list[str | None] = [node.site for node in nodes] + [None] * len(links)
        self.declared: list[_Declared] = []
        for node in nodes:
            self.declared.append(self._declared(node))
        self.declared.extend([((), ())] * len(links))

        count = len(self.ids)
        self.vertex_node: list[int] = list(range(count))
        self.vertex_site: list[str | None] = list(self.site)
        self.plain: list[tuple[int, ...]] = []
        self.groups: list[tuple[Group, ...]] = []
        self.copies: dict[tuple[int, str], int] = {}
        self.hops: dict[Hop, int] = {}
        self.hop_of: dict[int, Hop] = {}
        self.reach = self._reached_sites()

    def _declared(
        self, node: Node
    ) -> tuple[tuple[int, ...], tuple[tuple[tuple[int, ...], int], ...]]:
        plain: list[int] = []
        groups: list[tuple[tuple[int, ...], int]] = []
        for dependency in node.depends_on:
            if isinstance(dependency, AnyOf):
                members = tuple(self.index[member] for member in dependency.any_of)
                groups.append((members, dependency.min_healthy))
            else:
                plain.append(self.index[dependency])
        return tuple(dict.fromkeys(plain)), tuple(groups)

    def _targets(self, i: int) -> list[int]:
        plain, groups = self.declared[i]
        return [*plain, *(member for members, _ in groups for member in members)]

    def _node_order(self) -> list[int]:
        """Nodes with their dependencies first (validation has excluded cycles)."""
        pending = [len(set(self._targets(i))) for i in range(len(self.ids))]
        users: list[list[int]] = [[] for _ in self.ids]
        for i in range(len(self.ids)):
            for target in set(self._targets(i)):
                users[target].append(i)
        order = [i for i, count in enumerate(pending) if count == 0]
        for i in order:  # grows while iterating
            for user in users[i]:
                pending[user] -= 1
                if pending[user] == 0:
                    order.append(user)
        if len(order) != len(self.ids):
            raise TopologyError([Problem("<topology>", None, "dependency cycle")])
        return order

    def _reached_sites(self) -> dict[int, frozenset[str]]:
        """For each site-less node, the sites of the nodes it reaches through site-less nodes:
        the only places a per-site copy of it could need a link to."""
        reach: dict[int, frozenset[str]] = {}
        for i in self._node_order():
            if self.site[i] is not None:
                continue
            sites: set[str] = set()
            for target in self._targets(i):
                target_site = self.site[target]
                if target_site is not None:
                    sites.add(target_site)
                else:
                    sites |= reach[target]
            reach[i] = frozenset(sites)
        return reach

    def _vertex_for(self, node: int, context: str | None) -> int:
        """The vertex that evaluates site-less `node` as seen from site `context`."""
        if context is None:
            return node
        if not any(self.network.path(context, site) for site in self.reach[node]):
            return node  # no link could ever attach: the home vertex behaves the same
        key = (node, context)
        vertex = self.copies.get(key)
        if vertex is None:
            vertex = len(self.vertex_node)
            self.vertex_node.append(node)
            self.vertex_site.append(context)
            self.copies[key] = vertex
        return vertex

    def _hop_vertex(self, hop: Hop) -> int:
        if len(hop) == 1:
            return self.index[hop[0]]
        vertex = self.hops.get(hop)
        if vertex is None:
            vertex = len(self.vertex_node)
            self.vertex_node.append(SYNTHETIC)
            self.vertex_site.append(None)
            self.hops[hop] = vertex
            self.hop_of[vertex] = hop
        return vertex

    def _reach(self, context: str | None, target: int) -> tuple[int, ...]:
        """The vertices a dependency on `target` from `context` needs: the target and its path."""
        target_site = self.site[target]
        if target_site is None:
            return (self._vertex_for(target, context),)
        if context is None or context == target_site:
            return (target,)
        path = self.network.path(context, target_site)
        return (target, *(self._hop_vertex(hop) for hop in path))

    def run(self) -> CompiledGraph:
        vertex = 0
        # Vertices are appended (copies, hops) while this loop runs; it visits them all.
        while vertex < len(self.vertex_node):
            node = self.vertex_node[vertex]
            if node == SYNTHETIC:
                hop = self.hop_of[vertex]
                self.plain.append(())
                members = tuple((self.index[link],) for link in hop)
                self.groups.append(((members, 1),))
            else:
                context = self.vertex_site[vertex]
                plain, groups = self.declared[node]
                flat: list[int] = []
                for target in plain:
                    flat.extend(self._reach(context, target))
                self.plain.append(tuple(dict.fromkeys(flat)))
                self.groups.append(
                    tuple(
                        (tuple(self._reach(context, member) for member in members), minimum)
                        for members, minimum in groups
                    )
                )
            vertex += 1
        return self._finish()

    def _finish(self) -> CompiledGraph:
        count = len(self.vertex_node)
        down_edges: list[tuple[int, ...]] = []
        up: list[list[int]] = [[] for _ in range(count)]
        for v in range(count):
            edges = list(self.plain[v])
            for members, _ in self.groups[v]:
                for member in members:
                    edges.extend(member)
            unique = tuple(dict.fromkeys(edges))
            down_edges.append(unique)
            for u in unique:
                up[u].append(v)

        plain_sets = [frozenset(p) for p in self.plain]
        pending = [len(edges) for edges in down_edges]
        order = [v for v in range(count) if pending[v] == 0]
        for v in order:  # grows while iterating: Kahn's algorithm
            for w in up[v]:
                pending[w] -= 1
                if pending[w] == 0:
                    order.append(w)
        rank = [0] * count
        for position, v in enumerate(order):
            rank[v] = position

        nodes = len(self.ids)
        node_vertices: list[list[int]] = [[i] for i in range(nodes)]
        for (node, _), v in self.copies.items():
            node_vertices[node].append(v)

        def node_edges(v: int) -> list[int]:
            found: list[int] = []
            for u in down_edges[v]:
                if self.vertex_node[u] == SYNTHETIC:
                    found.extend(self.vertex_node[x] for x in down_edges[u])
                else:
                    found.append(self.vertex_node[u])
            return found

        dependencies: list[tuple[int, ...]] = []
        dependents: list[dict[int, None]] = [{} for _ in range(nodes)]
        for i in range(nodes):
            found: list[int] = []
            for v in node_vertices[i]:
                found.extend(node_edges(v))
            unique = tuple(x for x in dict.fromkeys(found) if x != i)
            dependencies.append(unique)
            for x in unique:
                dependents[x][i] = None

        return CompiledGraph(
            node_ids=tuple(self.ids),
            vertex_node=tuple(self.vertex_node),
            plain=tuple(self.plain),
            groups=tuple(self.groups),
            down_edges=tuple(down_edges),
            up_edges=tuple(tuple(edges) for edges in up),
            up_plain=tuple(tuple(w for w in up[v] if v in plain_sets[w]) for v in range(count)),
            up_grouped=tuple(
                tuple(w for w in up[v] if v not in plain_sets[w]) for v in range(count)
            ),
            rank=tuple(rank),
            node_vertices=tuple(tuple(vs) for vs in node_vertices),
            node_dependencies=tuple(dependencies),
            node_dependents=tuple(tuple(sorted(d, key=self.ids.__getitem__)) for d in dependents),
        )
