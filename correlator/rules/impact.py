"""Impact: the blast radius of the root cause(s): who cannot work, where, and at what cost.

The topology answers (redundancy groups and the location rule, docs/formats.md); this
stage turns its answer into the record's `affected` block and a cost per hour.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from correlator.core.model import Affected


class _TopologyAffected(Protocol):
    @property
    def services(self) -> tuple[str, ...]: ...
    @property
    def business_services(self) -> tuple[str, ...]: ...
    @property
    def user_groups(self) -> tuple[str, ...]: ...
    @property
    def users(self) -> int: ...
    @property
    def sites(self) -> tuple[str, ...]: ...
    @property
    def cost_per_hour(self) -> float: ...
    @property
    def currency(self) -> str: ...


class ImpactGraph(Protocol):
    def impact(self, failed: Iterable[str]) -> _TopologyAffected: ...


def assess(graph: ImpactGraph, roots: tuple[str, ...]) -> tuple[Affected, float, str | None]:
    """`(affected, cost per hour, currency)` if exactly `roots` fail; nothing for no roots."""
    if not roots:
        return Affected(), 0.0, None
    found = graph.impact(roots)
    affected = Affected(
        services=list(found.services),
        business_services=list(found.business_services),
        user_groups=list(found.user_groups),
        users=found.users,
        sites=list(found.sites),
    )
    return affected, round(found.cost_per_hour, 2), found.currency
