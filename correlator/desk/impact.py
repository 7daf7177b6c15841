"""Who is affected if these nodes fail: the document `correlator topology impact --json`
prints and `GET /api/v1/impact` answers (one function, so the two never drift apart)."""

from __future__ import annotations

from collections.abc import Sequence

from correlator.errors import CorrelatorError
from topology import Topology


class UnknownNodeError(CorrelatorError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no node or alias named {name!r}")
        self.name = name


def resolve_nodes(topology: Topology, names: Sequence[str]) -> list[str]:
    """Node ids for ids or aliases; raises UnknownNodeError naming the first unknown one."""
    failed: list[str] = []
    for name in names:
        node = name if name in topology.nodes else topology.resolve(name)
        if node is None:
            raise UnknownNodeError(name)
        failed.append(node)
    return failed


def impact_document(topology: Topology, failed: Sequence[str]) -> dict[str, object]:
    """`failed` are node ids (see `resolve_nodes`)."""
    found = topology.impact(failed)
    owners = sorted({o for n in failed if (o := topology.nodes[n].owner)})
    return {
        "failed": list(failed),
        "services": list(found.services),
        "business_services": list(found.business_services),
        "user_groups": list(found.user_groups),
        "users": found.users,
        "sites": list(found.sites),
        "cost_per_hour": found.cost_per_hour,
        "currency": found.currency,
        "resolver_groups": owners,
    }
