"""Who explains whom among an incident's alerting nodes (kept incrementally for `rootcause`)."""

from __future__ import annotations

from bisect import insort
from collections.abc import Mapping
from typing import Protocol

from correlator.rules.evidence import Evidence


class CauseIndex(Protocol):
    def causes(self, node: str) -> Mapping[str, int]: ...
    def blast(self, node: str) -> int: ...
    @property
    def firing_nodes(self) -> Mapping[str, int]: ...
    def credible(self, evidence: Evidence) -> bool: ...


class Structure:
    """Who explains whom among an incident's alerting nodes, kept up to date as nodes join
    (an incident's node set only grows), so ranking a storm is not quadratic. Built from
    scratch or grown one node at a time, it holds the same sorted lists."""

    __slots__ = (
        "below",
        "below_unexplained",
        "explained",
        "explains",
        "last_ranking",
        "members",
        "roots",
        "sorted_members",
        "version",
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
        self.version = 0
        """bumped by every `add` that changes the structure"""
        self.last_ranking: object | None = None
        """`rootcause.rank`'s memo: its inputs and verdict the last time (see there)"""

    @property
    def unexplained(self) -> list[str]:
        return sorted(self.roots)

    def add(self, node: str, index: CauseIndex) -> None:
        if node in self.members:
            return
        self.members.add(node)
        self.version += 1
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
