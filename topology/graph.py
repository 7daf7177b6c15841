"""`Topology`: the compiled, immutable service-dependency graph and its queries.

Built once from validated documents; a reload builds a new one and the caller swaps it in whole.
The queries run on the engine's hot path, so they work on the integer-indexed vertex graph of
`topology.compile` (see there for the location rule and per-site copies) with plain tuples and
dicts, touch only the part of the graph a question concerns, and cache their answers.

Semantics in short:

* `down_set(F)`: the failed nodes, plus every node with a down plain dependency, or an `any_of`
  group with fewer than `min_healthy` members up (a member is up while it and the links of its
  path are up). A site-less node is down when it is down as seen from any site that uses it.
  Computed by propagating upward from F in topological order, over affected ancestors only.
* `causes(n, h)` / `effects(n, h)`: graph neighbourhoods within h hops (down / up) filtered to
  single failures that really take n down (`n in down_set({c})`), so a redundant member whose
  group survives is not a cause. Hop counts run over the vertex graph: a WAN link reached through
  a site-less business service is one hop below that business service.
* Unknown ids are ignored by `down_set`/`impact` (an alert mapped to nothing cannot take anything
  down); the per-node queries raise `KeyError` for them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NoReturn

import orjson

from topology.compile import SYNTHETIC, CompiledGraph, compile_graph
from topology.domains import assign_domains
from topology.errors import TopologyError
from topology.lru import LruCache
from topology.matching import SelectorIndex
from topology.nodes import LINK, Affected, NodeClasses, NodeInfo
from topology.schema import Defaults, Link, Site, SourcedDocument, Team, TopologyDocument, User
from topology.validate import validate
from topology.walk import CriticalMemo, critical_causes, distances, down_vertices
from topology.wan import SiteNetwork

CACHE_SIZE = 4096
"""Entries per query cache. An incident storm touches a few hundred distinct failure sets; 4096
keeps them all while bounding memory on a 100k-node graph (a down set can hold thousands)."""


CRITICAL_MEMO_ENTRIES = 1_000_000
"""Node ids kept in the shared critical sets behind `causes` (about 57 MB at most; a 10k-node
graph needs about half of it to hold every vertex's set)."""


class Topology:
    """The compiled graph. Immutable: attributes cannot be set, mappings are read-only views."""

    __slots__ = (
        "_by_lower",
        "_by_name",
        "_causes_cache",
        "_classes",
        "_critical",
        "_domains",
        "_down_cache",
        "_effects_cache",
        "_graph",
        "_group_users",
        "_impact_cache",
        "_index",
        "_selectors",
        "_user_groups",
        "_user_position",
        "defaults",
        "digest",
        "links",
        "nodes",
        "sites",
        "sources",
        "teams",
        "users",
    )

    nodes: Mapping[str, NodeInfo]
    sites: Mapping[str, Site]
    links: Mapping[str, Link]
    teams: Mapping[str, Team]
    users: Mapping[str, User]
    defaults: Defaults
    digest: str
    sources: tuple[str, ...]
    _graph: CompiledGraph
    _classes: NodeClasses
    _index: dict[str, int]
    _selectors: SelectorIndex
    _by_name: dict[str, str]
    _by_lower: dict[str, str]
    _domains: dict[str, str]
    _group_users: dict[str, tuple[User, ...]]
    _user_position: dict[str, int]
    _user_groups: dict[str, tuple[str, ...]]
    _down_cache: LruCache[frozenset[str], frozenset[str]]
    _impact_cache: LruCache[frozenset[str], Affected]
    _causes_cache: LruCache[tuple[str, int], Mapping[str, int]]
    _effects_cache: LruCache[tuple[str, int], Mapping[str, int]]
    _critical: CriticalMemo

    def __init__(self, documents: Sequence[SourcedDocument]) -> None:
        problems = validate(documents)
        if problems:
            raise TopologyError(problems)
        put = self._init
        docs = [sourced.document for sourced in documents]
        node_models = [node for doc in docs for node in doc.nodes]
        link_models = [link for doc in docs for link in doc.links]
        sites = {site.id: site for doc in docs for site in doc.sites}
        put("sites", MappingProxyType(sites))
        put("links", MappingProxyType({link.id: link for link in link_models}))
        put("teams", MappingProxyType({team.id: team for doc in docs for team in doc.teams}))
        put("users", MappingProxyType({user.id: user for doc in docs for user in doc.users}))
        put("defaults", next((d.defaults for d in docs if d.defaults is not None), Defaults()))
        put("sources", tuple(dict.fromkeys(sourced.source for sourced in documents)))
        put("digest", _digest(docs))

        infos: dict[str, NodeInfo] = {}
        for node in node_models:
            infos[node.id] = NodeInfo(
                id=node.id,
                kind=node.kind,
                name=node.name or node.id,
                owner=node.owner,
                site=node.site,
                criticality=node.criticality,
                users=node.users,
                cost_per_user_hour=node.cost_per_user_hour,
                aliases=node.aliases,
                domain=node.domain,
                description=node.description,
            )
        for link in link_models:
            infos[link.id] = NodeInfo(
                id=link.id,
                kind=LINK,
                name=link.name or link.id,
                owner=link.owner,
                site=None,
                criticality=link.criticality,
                users=0,
                cost_per_user_hour=None,
                aliases=link.aliases,
                domain=None,
                description=link.description,
            )
        put("nodes", MappingProxyType(infos))
        put("_classes", NodeClasses.of(infos, self.defaults.cost_per_user_hour))

        graph = compile_graph(node_models, link_models, SiteNetwork(sites, link_models))
        put("_graph", graph)
        put("_index", {node_id: i for i, node_id in enumerate(graph.node_ids)})
        selectors = [(n.id, n.match) for n in node_models] + [(k.id, k.match) for k in link_models]
        put("_selectors", SelectorIndex(selectors))
        by_name: dict[str, str] = {node_id: node_id for node_id in infos}
        by_lower: dict[str, str] = {}
        for node_id in infos:
            by_lower.setdefault(node_id.lower(), node_id)
        for info in infos.values():
            for alias in info.aliases:
                by_name.setdefault(alias, info.id)
        for info in infos.values():
            for alias in info.aliases:
                by_lower.setdefault(alias.lower(), info.id)
        put("_by_name", by_name)
        put("_by_lower", by_lower)

        neighbours = [
            (*graph.node_dependencies[i], *graph.node_dependents[i])
            for i in range(len(graph.node_ids))
        ]
        explicit = [infos[node_id].domain for node_id in graph.node_ids]
        put(
            "_domains",
            dict(
                zip(
                    graph.node_ids,
                    assign_domains(graph.node_ids, explicit, neighbours),
                    strict=True,
                )
            ),
        )

        group_users: dict[str, list[User]] = {}
        for user in self.users.values():
            for group in dict.fromkeys(user.groups):
                group_users.setdefault(group, []).append(user)
        put("_group_users", {group: tuple(users) for group, users in group_users.items()})
        put("_user_position", {user_id: i for i, user_id in enumerate(self.users)})
        put(
            "_user_groups",
            {user.id: tuple(dict.fromkeys(user.groups)) for user in self.users.values()},
        )

        put("_down_cache", LruCache[frozenset[str], frozenset[str]](CACHE_SIZE))
        put("_impact_cache", LruCache[frozenset[str], Affected](CACHE_SIZE))
        put("_causes_cache", LruCache[tuple[str, int], Mapping[str, int]](CACHE_SIZE))
        put("_effects_cache", LruCache[tuple[str, int], Mapping[str, int]](CACHE_SIZE))
        put("_critical", CriticalMemo(CRITICAL_MEMO_ENTRIES))

    @classmethod
    def from_document(cls, document: TopologyDocument, source: str = "<memory>") -> Topology:
        """A topology from one in-memory document (tests, generated topologies)."""
        return cls([SourcedDocument(source=source, document=document)])

    def _init(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Topology is immutable (tried to set {name!r}); build a new one")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Topology is immutable (tried to delete {name!r})")

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._index

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"<Topology {len(self)} nodes, {len(self.sites)} sites, digest {self.digest[:12]}>"

    # ---- naming -------------------------------------------------------------------------------

    def resolve(self, name: str) -> str | None:
        """The node id for a node id or alias: exact first, then case-insensitive."""
        found = self._by_name.get(name)
        if found is None:
            found = self._by_lower.get(name.lower())
        return found

    def match(self, labels: Mapping[str, str]) -> str | None:
        """The first node (load order) with a `match` selector that all of `labels` satisfy."""
        return self._selectors.match(labels)

    # ---- structure ----------------------------------------------------------------------------

    def dependencies(self, node: str) -> tuple[str, ...]:
        """Direct effective dependencies: declared ones plus location-rule links."""
        ids = self._graph.node_ids
        return tuple(ids[i] for i in self._graph.node_dependencies[self._index[node]])

    def dependents(self, node: str) -> tuple[str, ...]:
        """Direct effective dependents (sorted)."""
        ids = self._graph.node_ids
        return tuple(ids[i] for i in self._graph.node_dependents[self._index[node]])

    def related(self, a: str, b: str, max_hops: int) -> bool:
        """Is one of `a`, `b` a dependency of the other, directly or through at most
        `max_hops` effective edges (location-rule links included)? Redundancy is not judged
        here: `causes`/`effects` answer "would one failure take the other down"."""
        if a == b:
            return a in self._index
        index = self._index
        if a not in index or b not in index:
            return False
        graph = self._graph
        target = index[b]
        for edges in (graph.node_dependencies, graph.node_dependents):
            frontier = [index[a]]
            seen = {index[a]}
            for _ in range(max_hops):
                step: list[int] = []
                for vertex in frontier:
                    for nxt in edges[vertex]:
                        if nxt == target:
                            return True
                        if nxt not in seen:
                            seen.add(nxt)
                            step.append(nxt)
                if not step:
                    break
                frontier = step
        return False

    def domain_of(self, node: str) -> str:
        return self._domains[node]

    def users_in_groups(self, groups: Iterable[str]) -> tuple[User, ...]:
        """The directory users in any of `groups`, each once, in directory order."""
        found: dict[str, User] = {}
        for group in groups:
            for user in self._group_users.get(group, ()):
                found[user.id] = user
        position = self._user_position
        return tuple(sorted(found.values(), key=lambda user: position[user.id]))

    def groups_of_user(self, user_id: str) -> tuple[str, ...]:
        return self._user_groups.get(user_id, ())

    # ---- failure propagation ------------------------------------------------------------------

    def down_set(self, failed: Iterable[str]) -> frozenset[str]:
        """Every node that is down when exactly the nodes in `failed` fail (those included)."""
        key = failed if isinstance(failed, frozenset) else frozenset(failed)
        cached = self._down_cache.get(key)
        if cached is None:
            index = self._index
            bases = [index[node] for node in key if node in index]
            ids = self._graph.node_ids
            vertex_node = self._graph.vertex_node
            cached = frozenset(
                ids[vertex_node[v]]
                for v in down_vertices(self._graph, bases)
                if vertex_node[v] != SYNTHETIC
            )
            self._down_cache.put(key, cached)
        return cached

    def impact(self, failed: Iterable[str]) -> Affected:
        """The blast radius of `failed`: what is down, who is affected, what it costs."""
        key = failed if isinstance(failed, frozenset) else frozenset(failed)
        cached = self._impact_cache.get(key)
        if cached is None:
            cached = self._impact(self.down_set(key))
            self._impact_cache.put(key, cached)
        return cached

    def _impact(self, down: frozenset[str]) -> Affected:
        # Set operations against precomputed classes run in C: a down set of thousands of
        # nodes is classified in well under a millisecond.
        classes = self._classes
        people = classes.people & down
        users = 0
        cost = 0.0
        for node_id in people:
            head_count, rate = classes.cost[node_id]
            users += head_count
            cost += head_count * rate
        site_of = classes.site_of
        return Affected(
            nodes=down,
            services=tuple(sorted(down - classes.not_services)),
            business_services=tuple(sorted(classes.business & down)),
            user_groups=tuple(sorted(people)),
            users=users,
            sites=tuple(sorted({site_of[n] for n in classes.sited & down})),
            cost_per_hour=cost,
            currency=self.defaults.currency,
        )

    def causes(self, node: str, max_hops: int) -> Mapping[str, int]:
        """Nodes within `max_hops` below `node` whose single failure takes `node` down, with
        their hop distance, nearest first."""
        key = (node, max_hops)
        cached = self._causes_cache.get(key)
        if cached is None:
            cached = self._causes(self._index[node], max_hops)
            self._causes_cache.put(key, cached)
        return cached

    def _causes(self, node: int, max_hops: int) -> Mapping[str, int]:
        graph = self._graph
        distance = distances(self._graph, graph.node_vertices[node], max_hops, graph.down_edges)
        distance.pop(node, None)
        if not distance:
            return MappingProxyType({})
        candidates = frozenset(distance)
        critical = critical_causes(
            self._graph, graph.node_vertices[node], candidates, self._critical
        )
        found = sorted(critical, key=lambda c: (distance[c], graph.node_ids[c]))
        return MappingProxyType({graph.node_ids[c]: distance[c] for c in found})

    def effects(self, node: str, max_hops: int) -> Mapping[str, int]:
        """Nodes within `max_hops` above `node` that its single failure takes down, with their
        hop distance, nearest first."""
        key = (node, max_hops)
        cached = self._effects_cache.get(key)
        if cached is None:
            cached = self._effects(node, max_hops)
            self._effects_cache.put(key, cached)
        return cached

    def _effects(self, node: str, max_hops: int) -> Mapping[str, int]:
        graph = self._graph
        base = self._index[node]
        distance = distances(self._graph, graph.node_vertices[base], max_hops, graph.up_edges)
        distance.pop(base, None)
        if not distance:
            return MappingProxyType({})
        down = self.down_set((node,))
        ids = graph.node_ids
        found = sorted((c for c in distance if ids[c] in down), key=lambda c: (distance[c], ids[c]))
        return MappingProxyType({ids[c]: distance[c] for c in found})


def _digest(documents: Sequence[TopologyDocument]) -> str:
    """A content hash, stable across runs and file locations (sources are left out)."""
    content: list[Any] = [doc.model_dump(mode="json") for doc in documents]
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
