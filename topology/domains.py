"""Partitioning domains (for scale-out): every node gets exactly one, decided at build time.

A node's domain is its explicit `domain`; else the domain of the closest node (undirected hops
over effective dependency edges) that has one, the smallest domain name winning ties; else the
id of its weakly connected component, which is the smallest node id in that component.
"""

from __future__ import annotations

from collections.abc import Sequence


def assign_domains(
    ids: Sequence[str], explicit: Sequence[str | None], neighbours: Sequence[Sequence[int]]
) -> list[str]:
    domains: list[str | None] = list(explicit)
    frontier = [i for i, domain in enumerate(domains) if domain is not None]
    # Breadth-first from all explicit nodes at once, one level at a time, so the closest wins;
    # within a level the smallest domain name wins, which keeps the result independent of order.
    while frontier:
        offers: dict[int, str] = {}
        for i in frontier:
            domain = domains[i]
            assert domain is not None
            for j in neighbours[i]:
                if domains[j] is None and (j not in offers or domain < offers[j]):
                    offers[j] = domain
        for j, domain in offers.items():
            domains[j] = domain
        frontier = list(offers)

    for start, domain in enumerate(domains):
        if domain is not None:
            continue
        component = [start]
        seen = {start}
        for i in component:  # grows while iterating: a breadth-first walk
            for j in neighbours[i]:
                if j not in seen:
                    seen.add(j)
                    component.append(j)
        label = min(ids[i] for i in component)
        for i in component:
            domains[i] = label
    return [domain for domain in domains if domain is not None]
