"""The graph walks behind `Topology`'s queries, as functions of the compiled vertex graph.

Kept apart from `Topology` (which owns caching and the node-id face of the queries) so each
algorithm can be read, and tested, on its own.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from heapq import heappop, heappush

from topology.compile import SYNTHETIC, CompiledGraph

_EMPTY: frozenset[int] = frozenset()


def down_vertices(graph: CompiledGraph, failed: Iterable[int]) -> set[int]:
    rank, plain, groups = graph.rank, graph.plain, graph.groups
    up_plain, up_grouped = graph.up_plain, graph.up_grouped
    down: set[int] = set()
    heap: list[tuple[int, int]] = []
    queued: set[int] = set()

    def fall(start: Iterable[int]) -> None:
        # A vertex that needs a down vertex outright is down whatever else holds: mark it at
        # once. Only redundancy groups need judging, and that waits for the heap (below).
        stack = [v for v in start if v not in down]
        down.update(stack)
        while stack:
            v = stack.pop()
            for w in up_plain[v]:
                if w not in down:
                    down.add(w)
                    stack.append(w)
            for w in up_grouped[v]:
                if w not in queued:
                    queued.add(w)
                    heappush(heap, (rank[w], w))

    fall(v for node in failed for v in graph.node_vertices[node])
    # Lowest rank first: when a group is judged, every vertex of lower rank that will ever
    # be down is marked already (marking runs to completion before the next pop, and what
    # it marks outranks what started it), so the verdict is final.
    while heap:
        _, v = heappop(heap)
        if v not in down and not holds(v, down, plain, groups):
            fall((v,))
    return down


class CriticalMemo:
    """Uncut critical sets (every node whose single failure takes the vertex down), shared by
    the queries of one topology. Cutting a set to a query's candidates after the fact gives the
    set the cut walk finds (the cut is an intersection, and it commutes with the unions and the
    per-node counts), so one walk of a vertex serves every later query whose cone holds it:
    without it, each node's first `causes` query walked its whole cone again.

    Bounded by `limit` stored entries (about 57 bytes each): past it, walks keep their sets to
    themselves. Entries are never removed, so a query on another thread never misses one it
    was about to read."""

    __slots__ = ("entries", "limit", "sets")

    def __init__(self, limit: int) -> None:
        self.sets: dict[int, frozenset[int]] = {}
        self.entries = 0
        self.limit = limit


def critical_causes(
    graph: CompiledGraph,
    starts: Sequence[int],
    candidates: frozenset[int],
    memo: CriticalMemo | None = None,
) -> set[int]:
    """The candidates whose single failure takes down any of `starts`.

    critical(v) = {v's node} ∪ critical(plain deps) ∪ for each group, the nodes that take
    down more members than the group can spare. Exact for single failures, and each set is
    cut down to `candidates`, so the sets stay small however deep the graph below is.
    With `memo`, the sets are kept whole and shared (see `CriticalMemo`) and cut at the end.
    """
    if memo is not None:
        return _memo_critical(graph, starts, memo) & candidates
    vertex_node, plain, groups, down_edges = (
        graph.vertex_node,
        graph.plain,
        graph.groups,
        graph.down_edges,
    )
    critical: dict[int, frozenset[int]] = {}
    stack: list[tuple[int, bool]] = [(v, False) for v in starts]
    while stack:
        v, expanded = stack.pop()
        if v in critical:
            continue
        if not expanded:
            stack.append((v, True))
            stack.extend((u, False) for u in down_edges[v] if u not in critical)
            continue
        found: set[int] = set()
        if vertex_node[v] in candidates:
            found.add(vertex_node[v])
        for u in plain[v]:
            found |= critical[u]
        for members, minimum in groups[v]:
            spare = len(members) - minimum
            hits: Counter[int] = Counter()
            for member in members:
                member_critical: set[int] = set()
                for u in member:
                    member_critical |= critical[u]
                hits.update(member_critical)
            found.update(c for c, count in hits.items() if count > spare)
        critical[v] = frozenset(found) if found else _EMPTY
    result: set[int] = set()
    for v in starts:
        result |= critical[v]
    return result


def _memo_critical(graph: CompiledGraph, starts: Sequence[int], memo: CriticalMemo) -> set[int]:
    """The union of the uncut critical sets of `starts`, walking only what `memo` lacks."""
    vertex_node, plain, groups, down_edges = (
        graph.vertex_node,
        graph.plain,
        graph.groups,
        graph.down_edges,
    )
    known = memo.sets
    fresh: dict[int, frozenset[int]] = {}

    def lookup(v: int) -> frozenset[int]:
        found = known.get(v)
        return fresh[v] if found is None else found

    stack: list[tuple[int, bool]] = [(v, False) for v in starts]
    while stack:
        v, expanded = stack.pop()
        if v in known or v in fresh:
            continue
        if not expanded:
            stack.append((v, True))
            stack.extend((u, False) for u in down_edges[v] if u not in known and u not in fresh)
            continue
        found: set[int] = set()
        node = vertex_node[v]
        if node != SYNTHETIC:
            found.add(node)
        for u in plain[v]:
            found |= lookup(u)
        for members, minimum in groups[v]:
            spare = len(members) - minimum
            hits: Counter[int] = Counter()
            for member in members:
                member_critical: set[int] = set()
                for u in member:
                    member_critical |= lookup(u)
                hits.update(member_critical)
            found.update(c for c, count in hits.items() if count > spare)
        fresh[v] = frozenset(found) if found else _EMPTY
    result: set[int] = set()
    for v in starts:
        result |= lookup(v)
    if fresh and memo.entries < memo.limit:
        memo.entries += sum(len(found) for found in fresh.values())
        known.update(fresh)
    return result


def distances(
    graph: CompiledGraph, starts: Sequence[int], max_hops: int, edges: Sequence[tuple[int, ...]]
) -> dict[int, int]:
    """Hop distance from `starts` to every node within `max_hops` along `edges`.

    A breadth-first walk where stepping onto a synthetic hop vertex is free, so a path over
    parallel links is as long as one over a single link."""
    if max_hops < 0:
        return {}
    vertex_node = graph.vertex_node
    best = dict.fromkeys(starts, 0)
    queue = deque(starts)
    while queue:
        v = queue.popleft()
        reached = best[v]
        for u in edges[v]:
            free = vertex_node[u] == SYNTHETIC
            hops = reached if free else reached + 1
            if hops > max_hops or best.get(u, hops + 1) <= hops:
                continue
            best[u] = hops
            if free:
                queue.appendleft(u)
            else:
                queue.append(u)
    by_node: dict[int, int] = {}
    for v, hops in best.items():
        node = vertex_node[v]
        if node != SYNTHETIC and hops < by_node.get(node, hops + 1):
            by_node[node] = hops
    return by_node


def holds(
    v: int,
    down: set[int],
    plain: Sequence[tuple[int, ...]],
    groups: Sequence[tuple[tuple[tuple[tuple[int, ...], ...], int], ...]],
) -> bool:
    """Whether vertex `v` is up, given that `down` holds all its dependencies that are down."""
    for u in plain[v]:
        if u in down:
            return False
    for members, minimum in groups[v]:
        healthy = 0
        for member in members:
            if down.isdisjoint(member):
                healthy += 1
                if healthy >= minimum:
                    break
        if healthy < minimum:
            return False
    return True
