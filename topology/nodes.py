"""What the graph knows of each node, and the blast-radius summary its queries return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BUSINESS_SERVICE = "business_service"
USER_GROUP = "user_group"
LINK = "link"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What the engine needs to know about one node. `domain` is the explicit one from the file;
    `Topology.domain_of` gives the effective one."""

    id: str
    kind: str
    name: str
    owner: str | None
    site: str | None
    criticality: str
    users: int
    cost_per_user_hour: float | None
    aliases: tuple[str, ...]
    domain: str | None
    description: str | None = None

    @property
    def carries_people(self) -> bool:
        """A user group, or any node given a head count."""
        return self.kind == USER_GROUP or self.users > 0


@dataclass(frozen=True, slots=True)
class NodeClasses:
    """Node ids by the role they play in an impact summary."""

    business: frozenset[str]
    not_services: frozenset[str]
    people: frozenset[str]
    sited: frozenset[str]
    site_of: dict[str, str]
    cost: dict[str, tuple[int, float]]
    """Head count and cost per user hour of each people-carrying node."""

    @classmethod
    def of(cls, nodes: Mapping[str, NodeInfo], default_cost: float) -> NodeClasses:
        site_of = {i.id: i.site for i in nodes.values() if i.site is not None}
        people = {i.id: i for i in nodes.values() if i.carries_people}
        return cls(
            business=frozenset(i.id for i in nodes.values() if i.kind == BUSINESS_SERVICE),
            not_services=frozenset(
                i.id for i in nodes.values() if i.kind in (BUSINESS_SERVICE, USER_GROUP)
            ),
            people=frozenset(people),
            sited=frozenset(site_of),
            site_of=site_of,
            cost={
                node_id: (
                    info.users,
                    default_cost if info.cost_per_user_hour is None else info.cost_per_user_hour,
                )
                for node_id, info in people.items()
            },
        )


@dataclass(frozen=True, slots=True)
class Affected:
    """The blast radius of a set of failures."""

    nodes: frozenset[str]
    services: tuple[str, ...]
    business_services: tuple[str, ...]
    user_groups: tuple[str, ...]
    users: int
    sites: tuple[str, ...]
    cost_per_hour: float
    currency: str
