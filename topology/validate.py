"""Checks that a topology is usable, collecting every problem with the file and node it concerns.

Refused: duplicate ids (nodes and links share one namespace; sites, teams and users have their
own), references to unknown nodes / teams / sites / groups, links between unknown sites, bad
redundancy groups, aliases that collide, empty match selectors, defaults set in two files, and
dependency cycles (the message walks the cycle). Allowed on purpose: `users` > 0 on a node that is
not a `user_group` (a kiosk service can carry people too).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import networkx as nx

from topology.errors import Problem
from topology.schema import AnyOf, Link, Node, SourcedDocument


@dataclass(frozen=True, slots=True)
class _Entry:
    source: str
    node: Node | None
    link: Link | None

    @property
    def id(self) -> str:
        if self.node is not None:
            return self.node.id
        assert self.link is not None
        return self.link.id

    @property
    def aliases(self) -> tuple[str, ...]:
        if self.node is not None:
            return self.node.aliases
        assert self.link is not None
        return self.link.aliases


def _entries(documents: Sequence[SourcedDocument]) -> Iterator[_Entry]:
    """Nodes then links, in load order: the order the compiled graph uses too."""
    for sourced in documents:
        for node in sourced.document.nodes:
            yield _Entry(sourced.source, node, None)
    for sourced in documents:
        for link in sourced.document.links:
            yield _Entry(sourced.source, None, link)


def validate(documents: Sequence[SourcedDocument]) -> list[Problem]:
    """Every problem of the merged documents; empty when the topology is usable."""
    problems: list[Problem] = []
    site_ids = _unique_ids(documents, "sites", problems)
    team_ids = _unique_ids(documents, "teams", problems)
    _unique_ids(documents, "users", problems)
    _check_defaults(documents, problems)

    entries: dict[str, _Entry] = {}
    for entry in _entries(documents):
        first = entries.get(entry.id)
        if first is not None:
            problems.append(
                Problem(entry.source, entry.id, f"duplicate id (first defined in {first.source})")
            )
            continue
        entries[entry.id] = entry

    for entry in entries.values():
        if entry.link is not None:
            _check_link(entry.source, entry.link, site_ids, team_ids, problems)
        elif entry.node is not None:
            _check_node(
                entry.source,
                entry.node,
                entries=entries,
                sites=site_ids,
                teams=team_ids,
                problems=problems,
            )
    _check_aliases(entries, problems)
    _check_users(documents, entries, team_ids, problems)
    problems.extend(_cycles(entries))
    return problems


def _unique_ids(
    documents: Sequence[SourcedDocument], section: str, problems: list[Problem]
) -> set[str]:
    seen: dict[str, str] = {}
    noun = section.rstrip("s")
    for sourced in documents:
        for item in getattr(sourced.document, section):
            if item.id in seen:
                problems.append(
                    Problem(
                        sourced.source,
                        None,
                        f"duplicate {noun} id {item.id!r} (first defined in {seen[item.id]})",
                    )
                )
            else:
                seen[item.id] = sourced.source
    return set(seen)


def _check_defaults(documents: Sequence[SourcedDocument], problems: list[Problem]) -> None:
    first: str | None = None
    for sourced in documents:
        if sourced.document.defaults is None:
            continue
        if first is None:
            first = sourced.source
        else:
            problems.append(
                Problem(sourced.source, None, f"defaults already set in {first}; set them once")
            )


def _check_owner(
    source: str, item_id: str, owner: str | None, teams: set[str], problems: list[Problem]
) -> None:
    if owner is not None and owner not in teams:
        problems.append(Problem(source, item_id, f"owner {owner!r} is not a known team"))


def _check_selectors(
    source: str, item_id: str, selectors: Sequence[dict[str, str]], problems: list[Problem]
) -> None:
    if any(not selector for selector in selectors):
        problems.append(
            Problem(source, item_id, "empty match selector (it would match every alert)")
        )


def _check_link(
    source: str, link: Link, sites: set[str], teams: set[str], problems: list[Problem]
) -> None:
    for site in dict.fromkeys(link.between):
        if site not in sites:
            problems.append(Problem(source, link.id, f"link between unknown site {site!r}"))
    if link.between[0] == link.between[1]:
        problems.append(Problem(source, link.id, f"link joins site {link.between[0]!r} to itself"))
    _check_owner(source, link.id, link.owner, teams, problems)
    _check_selectors(source, link.id, link.match, problems)


def _check_node(
    source: str,
    node: Node,
    *,
    entries: dict[str, _Entry],
    sites: set[str],
    teams: set[str],
    problems: list[Problem],
) -> None:
    def bad(message: str) -> None:
        problems.append(Problem(source, node.id, message))

    if node.site is not None and node.site not in sites:
        bad(f"unknown site {node.site!r}")
    _check_owner(source, node.id, node.owner, teams, problems)
    _check_selectors(source, node.id, node.match, problems)
    for dependency in node.depends_on:
        targets = dependency.any_of if isinstance(dependency, AnyOf) else (dependency,)
        for target in targets:
            if target not in entries:
                bad(f"depends on unknown node {target!r}")
        if isinstance(dependency, AnyOf):
            _check_group(dependency, bad)


def _check_group(group: AnyOf, bad: Callable[[str], None]) -> None:
    size = len(group.any_of)
    members = ", ".join(group.any_of)
    if group.min_healthy < 1:
        bad(f"any_of [{members}]: min_healthy {group.min_healthy} must be at least 1")
    elif group.min_healthy > size:
        bad(f"any_of [{members}]: min_healthy {group.min_healthy} exceeds its group ({size})")
    seen: set[str] = set()
    for member in group.any_of:
        if member in seen:
            bad(f"any_of [{members}] lists {member!r} twice")
        seen.add(member)


def _check_aliases(entries: dict[str, _Entry], problems: list[Problem]) -> None:
    owners: dict[str, str] = {}
    for entry in entries.values():
        for alias in dict.fromkeys(entry.aliases):
            if alias == entry.id:
                continue
            if alias in entries:
                problems.append(
                    Problem(
                        entry.source, entry.id, f"alias {alias!r} collides with node id {alias!r}"
                    )
                )
            elif alias in owners and owners[alias] != entry.id:
                problems.append(
                    Problem(
                        entry.source,
                        entry.id,
                        f"alias {alias!r} is also an alias of node {owners[alias]!r}",
                    )
                )
            else:
                owners.setdefault(alias, entry.id)


def _check_users(
    documents: Sequence[SourcedDocument],
    entries: dict[str, _Entry],
    teams: set[str],
    problems: list[Problem],
) -> None:
    # A group is a node (normally a user_group) or, for Backstage catalogs, a team.
    for sourced in documents:
        for user in sourced.document.users:
            for group in user.groups:
                if group not in entries and group not in teams:
                    problems.append(
                        Problem(
                            sourced.source, None, f"user {user.id!r} is in unknown group {group!r}"
                        )
                    )


def _targets(node: Node) -> Iterator[str]:
    for dependency in node.depends_on:
        if isinstance(dependency, AnyOf):
            yield from dependency.any_of
        else:
            yield dependency


def _cycles(entries: dict[str, _Entry]) -> list[Problem]:
    """Kahn's algorithm in plain Python finds whether there is a cycle (fast on 100k nodes);
    networkx then names one cycle per strongly connected remainder, for the message."""
    deps: dict[str, list[str]] = {}
    for entry in entries.values():
        if entry.node is not None:
            deps[entry.id] = [t for t in dict.fromkeys(_targets(entry.node)) if t in entries]
    pending = {node_id: len(targets) for node_id, targets in deps.items()}
    users: dict[str, list[str]] = {}
    for node_id, targets in deps.items():
        for target in targets:
            users.setdefault(target, []).append(node_id)
    ready = deque(node_id for node_id, count in pending.items() if count == 0)
    ready.extend(entry_id for entry_id in entries if entry_id not in deps)
    while ready:
        done = ready.popleft()
        for user in users.get(done, ()):
            pending[user] -= 1
            if pending[user] == 0:
                ready.append(user)
    stuck = sorted(node_id for node_id, count in pending.items() if count > 0)
    if not stuck:
        return []
    graph = nx.DiGraph()
    graph.add_nodes_from(stuck)
    graph.add_edges_from((a, b) for a in stuck for b in deps[a] if b in pending and pending[b] > 0)
    problems: list[Problem] = []
    for component in sorted(nx.strongly_connected_components(graph), key=min):
        if len(component) == 1 and not graph.has_edge(*(2 * tuple(component))):
            continue  # stuck only because it depends on a cycle; the cycle gets the message
        edges = nx.find_cycle(graph.subgraph(component))
        cycle = [edge[0] for edge in edges]
        start = cycle.index(min(cycle))
        cycle = cycle[start:] + cycle[:start]
        walk = " -> ".join([*cycle, cycle[0]])
        first = cycle[0]
        problems.append(Problem(entries[first].source, first, f"dependency cycle: {walk}"))
    return problems
