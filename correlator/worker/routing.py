"""Routing alerts to engines: alerts that can correlate must meet in the same engine.

Stage 1 keys every decoded alert by the topology *domain* of the node it maps onto
(`Topology.domain_of`: an explicit `domain:` of the node or of its closest neighbour that has
one, else its connected component), and sends it to repartition partition
`crc32c(key) % partitions`; stage 2 runs one engine per repartition partition. Alerts no rule
places on the topology are keyed by the same label the engine groups unmapped alerts under
(`rules.mapping.unmapped_key`), so they still meet each other. See docs/worker.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from crc32c import crc32c

from correlator.core.model import Alert
from correlator.rules.mapping import map_alert, unmapped_key


class RoutingTopology(Protocol):
    def __contains__(self, node_id: object) -> bool: ...
    def resolve(self, name: str) -> str | None: ...
    def match(self, labels: Mapping[str, str]) -> str | None: ...
    def domain_of(self, node: str) -> str: ...


def routing_key(topology: RoutingTopology, alert: Alert) -> str:
    """`domain:<domain>` for an alert on the topology, `unmapped:<label>=<value>` otherwise."""
    node = map_alert(topology, alert)
    if node is None:
        return f"unmapped:{unmapped_key(alert.name, alert.labels)}"
    return f"domain:{topology.domain_of(node)}"


def partition_for(key: str, partitions: int) -> int:
    """A stable partition for `key`: the same on every worker, version and restart."""
    return crc32c(key.encode("utf-8")) % partitions
