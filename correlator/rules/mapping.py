"""Mapping: which topology node an alert speaks of (docs/formats.md, inputs, first hit wins).

1. the sender's explicit node (native `node`) or label `topology_node`, equal to a node id;
2. a node's `match` selectors;
3. label `service`, then `host`/`hostname`, then `instance` (the part before `:`), then `job`,
   each equal to a node id or alias;
4. otherwise unmapped: `unmapped_key` says which label set it is grouped under instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from correlator.core.model import Alert

#: Labels tried in order by step 3; `instance` is cut at its port.
NAME_LABELS: tuple[str, ...] = ("service", "host", "hostname", "instance", "job")

#: For unmapped alerts: the first of these labels present names the group they join. The
#: alert name comes last so that two different alerts from one unknown service still group.
UNMAPPED_GROUP_LABELS: tuple[str, ...] = (
    "service",
    "app",
    "job",
    "cluster",
    "namespace",
    "host",
    "hostname",
    "instance",
    "alertname",
)


class NodeResolver(Protocol):
    def __contains__(self, node_id: object) -> bool: ...
    def resolve(self, name: str) -> str | None: ...
    def match(self, labels: Mapping[str, str]) -> str | None: ...


def map_alert(topology: NodeResolver, alert: Alert) -> str | None:
    """The topology node of `alert`, or None when no rule places it."""
    for explicit in (alert.node, alert.labels.get("topology_node")):
        if explicit and explicit in topology:
            return explicit
    matched = topology.match(alert.labels)
    if matched is not None:
        return matched
    labels = alert.labels
    for label in NAME_LABELS:
        value = labels.get(label)
        if not value:
            continue
        if label == "instance":
            value = _host_part(value)
        node = topology.resolve(value)
        if node is not None:
            return node
    if alert.node:
        # A native sender may name a node by alias rather than id.
        return topology.resolve(alert.node)
    return None


def unmapped_key(name: str, labels: Mapping[str, str]) -> str:
    """The label an unmapped alert is grouped by, e.g. `job=billing-exporter`."""
    for label in UNMAPPED_GROUP_LABELS:
        value = labels.get(label)
        if value:
            if label == "instance":
                value = _host_part(value)
            return f"{label}={value}"
    return f"alertname={name}"


def _host_part(instance: str) -> str:
    """'db1.example.com:9100' -> 'db1.example.com'; '[::1]:9100' -> '::1'."""
    if instance.startswith("["):
        end = instance.find("]")
        return instance[1:end] if end > 0 else instance
    if instance.count(":") == 1:
        return instance.split(":", 1)[0]
    return instance
