"""Root cause: rank the nodes of an incident by how well their failure explains the rest.

* An alerting node that nothing else alerting explains (its own dependencies are healthy) and
  whose failure explains the most other alerting nodes comes first. Arrival order plays no part,
  so a cause whose alert arrives after its symptoms' still wins.
* When several alerting nodes are unexplained and a node that raised no alert would explain all
  of them, that *silent* node is named, with a lower confidence.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from correlator.core.model import SEVERITIES, Candidate, RootCause
from correlator.core.state import AlertState
from topology import Topology

MAX_CANDIDATES = 5
_CRITICALITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class CauseIndex(Protocol):
    def causes(self, node: str) -> Mapping[str, int]: ...
    def blast(self, node: str) -> int: ...
    @property
    def firing_nodes(self) -> Mapping[str, int]: ...
    def locally_plausible(self, cause: str, under: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class Ranking:
    root: RootCause | None
    candidates: list[Candidate]
    root_nodes: tuple[str, ...]
    """The nodes whose failure the impact is computed from."""


def _single_root(
    graph: Topology, best: str, explains: Sequence[str], members: Sequence[str]
) -> Ranking:
    """The ranking when exactly one alerting member is unexplained (the common case)."""
    others = len(members) - 1
    share = len(explains) / others if others else 0.0
    if others:
        reason = (
            f"{graph.nodes[best].name} is alerting while its own dependencies are healthy, "
            f"and its failure explains {len(explains)} of the {others} other alerting "
            f"components ({_names(graph, explains)})."
        )
    else:
        reason = (
            f"{graph.nodes[best].name} is the only alerting component and none of its "
            "dependencies is alerting."
        )
    ranked = [_candidate(graph, best, 0.6 + 0.35 * share, reason)]
    for node in members:
        if len(ranked) > MAX_CANDIDATES:
            break
        if node != best:
            ranked.append(_symptom(graph, node))
    return Ranking(
        root=_promote(ranked[0], ranked[1:]),
        candidates=ranked[1:],
        root_nodes=(best,),
    )


def _symptom(graph: Topology, node: str) -> Candidate:
    return _candidate(
        graph,
        node,
        0.05,
        f"{graph.nodes[node].name} is alerting, but a failure below it explains that.",
    )


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _names(graph: Topology, nodes: Iterable[str], limit: int = 3) -> str:
    names = [graph.nodes[n].name for n in nodes]
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    return ", ".join(names)


def _candidate(
    graph: Topology, node: str, confidence: float, reason: str, *, silent: bool = False
) -> Candidate:
    info = graph.nodes[node]
    return Candidate(
        node=node,
        name=info.name,
        kind=info.kind,
        confidence=round(min(1.0, max(0.0, confidence)), 3),
        reason=reason,
        silent=silent,
        alerting=not silent,
    )


def _promote(candidate: Candidate, others: list[Candidate]) -> RootCause:
    return RootCause(**candidate.model_dump(), candidates=others)


def rank_unmapped(alerts: Iterable[AlertState], key: str | None) -> Ranking:
    names = sorted({a.name for a in alerts})
    label = key or (names[0] if names else "unknown")
    root = RootCause(
        node=None,
        name=", ".join(names[:3]) or label,
        kind="unmapped",
        confidence=0.3,
        reason=f"No topology node matches these alerts; they are grouped by {label}.",
    )
    return Ranking(root=root, candidates=[], root_nodes=())


class Structure:
    """Who explains whom among an incident's alerting nodes, kept up to date as nodes join
    (an incident's node set only grows), so ranking a storm is not quadratic. Built from
    scratch or grown one node at a time, it holds the same sorted lists."""

    __slots__ = (
        "below",
        "below_unexplained",
        "explained",
        "explains",
        "members",
        "roots",
        "sorted_members",
    )

    def __init__(self) -> None:
        self.members: set[str] = set()
        self.sorted_members: list[str] = []
        self.explains: dict[str, list[str]] = {}
        """member -> the members its failure would take down, sorted"""
        self.explained: set[str] = set()
        self.below: dict[str, list[str]] = {}
        """non-member cause -> the members its failure would take down, sorted"""
        self.below_unexplained: dict[str, int] = {}
        """non-member cause -> how many of `below` nothing among the members explains"""
        self.roots: set[str] = set()
        """members that no other member explains"""

    @property
    def unexplained(self) -> list[str]:
        return sorted(self.roots)

    def add(self, node: str, index: CauseIndex) -> None:
        if node in self.members:
            return
        self.members.add(node)
        insort(self.sorted_members, node)
        under = self.below.pop(node, [])
        self.below_unexplained.pop(node, None)
        self.explains[node] = under
        for member in under:
            if member not in self.explained:
                self.explained.add(member)
                self.roots.discard(member)
                self._count(member, index, -1)
        for cause in index.causes(node):
            if cause in self.members:
                insort(self.explains[cause], node)
                self.explained.add(node)
            else:
                insort(self.below.setdefault(cause, []), node)
        if node not in self.explained:
            self.roots.add(node)
            self._count(node, index, +1)

    def _count(self, member: str, index: CauseIndex, step: int) -> None:
        for cause in index.causes(member):
            if cause in self.below:
                self.below_unexplained[cause] = self.below_unexplained.get(cause, 0) + step


def rank(
    graph: Topology,
    index: CauseIndex,
    alerts: Iterable[AlertState],
    unmapped_key: str | None,
    structure: Structure | None = None,
) -> Ranking:
    """Rank the incident whose alerts are `alerts`. `structure`, when given, must already hold
    every mapped node of `alerts` (the engine keeps it as nodes join); else it is built here."""
    if structure is None:
        structure = Structure()
        for alert in alerts:
            if alert.node is not None:
                structure.add(alert.node, index)
    if not structure.members:
        return rank_unmapped(alerts, unmapped_key)
    members = structure.sorted_members
    explains = structure.explains
    explained = structure.explained
    unexplained = structure.unexplained
    if len(unexplained) == 1:
        return _single_root(graph, unexplained[0], explains[unexplained[0]], members)

    severity: dict[str, int] = {}
    first: dict[str, datetime] = {}
    wanted = set(unexplained)
    for alert in alerts:
        node = alert.node
        if node not in wanted:
            continue
        sev = _severity_rank(alert.severity)
        if sev < severity.get(node, len(SEVERITIES) + 1):
            severity[node] = sev
        if node not in first or alert.starts_at < first[node]:
            first[node] = alert.starts_at
    others = len(members) - 1

    def strength(node: str) -> tuple[int, int, int, datetime, str]:
        crit = _CRITICALITY_RANK.get(graph.nodes[node].criticality, 2)
        return (-len(explains[node]), severity[node], crit, first[node], node)

    unexplained.sort(key=strength)
    firing = index.firing_nodes
    pool = sorted(
        (
            (cause, count)
            for cause, count in structure.below_unexplained.items()
            if count > 1 and cause not in firing
        ),
        key=lambda item: (-item[1], index.blast(item[0]), item[0]),
    )
    silent_ranked: list[tuple[str, list[str]]] = []
    for cause, _ in pool:
        under = structure.below[cause]
        if index.locally_plausible(cause, len(under)):
            silent_ranked.append((cause, [m for m in under if m not in explained]))
            if len(silent_ranked) == 2:
                break

    ranked: list[Candidate] = []
    root_nodes: tuple[str, ...]
    if silent_ranked and len(silent_ranked[0][1]) == len(unexplained):
        cause, covered = silent_ranked[0]
        reason = (
            f"{graph.nodes[cause].name} raised no alert, but all {len(covered)} alerting "
            f"components that nothing else explains depend on it ({_names(graph, covered)}); "
            "its failure would explain them all."
        )
        ranked.append(
            _candidate(graph, cause, min(0.75, 0.35 + 0.1 * len(covered)), reason, silent=True)
        )
        root_nodes = (cause,)
    else:
        best = unexplained[0]
        silent_reach = 0
        if silent_ranked:
            cause = silent_ranked[0][0]
            silent_reach = len(structure.below[cause])
        if silent_reach > 1 + len(explains[best]):
            # Part of the incident hangs below a quiet component and explains more alerts than
            # any alerting candidate; the rest are separate unexplained failures grouped in.
            cause, covered = silent_ranked[0]
            rest = sorted(n for n in unexplained if n not in covered)
            reason = (
                f"{graph.nodes[cause].name} raised no alert, but {silent_reach} alerting "
                f"components depend on it ({_names(graph, covered)}), more than any alerting "
                f"component explains; {len(rest)} other alerting components are unexplained "
                f"({_names(graph, rest)})."
            )
            confidence = 0.25 + 0.35 * silent_reach / len(members)
            ranked.append(_candidate(graph, cause, confidence, reason, silent=True))
            root_nodes = (cause, *rest)
        else:
            share = len(explains[best]) / others if others else 0.0
            reason = (
                f"{graph.nodes[best].name} is alerting with healthy dependencies and explains "
                f"{len(explains[best])} of the {others} other alerting components, but "
                f"{len(unexplained) - 1} other alerting components are unexplained "
                f"({_names(graph, unexplained[1:])})."
            )
            ranked.append(_candidate(graph, best, 0.3 + 0.3 * share, reason))
            root_nodes = (best, *sorted(n for n in unexplained if n != best))

    for node in unexplained:
        if node == ranked[0].node:
            continue
        share = len(explains[node]) / others if others else 0.0
        ranked.append(
            _candidate(
                graph,
                node,
                0.2 + 0.2 * share,
                f"{graph.nodes[node].name} is alerting and none of its dependencies is, but it "
                f"explains only {len(explains[node])} other alerting components.",
            )
        )
    for cause, covered in silent_ranked[:2]:
        if cause == ranked[0].node:
            continue
        ranked.append(
            _candidate(
                graph,
                cause,
                0.15 + 0.05 * len(covered),
                f"{graph.nodes[cause].name} raised no alert but {len(covered)} alerting "
                "components depend on it.",
                silent=True,
            )
        )
    for node in members:
        if node in explained and len(ranked) < MAX_CANDIDATES + 1:
            ranked.append(_symptom(graph, node))
    ranked = ranked[: MAX_CANDIDATES + 1]
    return Ranking(
        root=_promote(ranked[0], ranked[1:]),
        candidates=ranked[1:],
        root_nodes=root_nodes,
    )
