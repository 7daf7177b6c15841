"""The service-dependency graph: what runs where, who depends on what, who uses it, who owns it.

from topology import load_topology
topo = load_topology("topology/examples")
topo.impact(["wan-dallas-nyc"]).users
"""

from topology.errors import Problem, TopologyError
from topology.graph import Topology
from topology.loader import (
    example_topology_path,
    load_document,
    load_example,
    load_topology,
    read_documents,
)
from topology.nodes import Affected, NodeInfo
from topology.schema import (
    AnyOf,
    Defaults,
    Link,
    Node,
    Site,
    SourcedDocument,
    Team,
    TopologyDocument,
    User,
)

__all__ = [
    "Affected",
    "AnyOf",
    "Defaults",
    "Link",
    "Node",
    "NodeInfo",
    "Problem",
    "Site",
    "SourcedDocument",
    "Team",
    "Topology",
    "TopologyDocument",
    "TopologyError",
    "User",
    "example_topology_path",
    "load_document",
    "load_example",
    "load_topology",
    "read_documents",
]
