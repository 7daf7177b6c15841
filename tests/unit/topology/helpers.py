"""Small builders shared by the topology tests: every test builds its own topology."""

from __future__ import annotations

from typing import Any

from topology import Topology, TopologyDocument


def build(**sections: Any) -> Topology:
    """A topology from plain dicts, e.g. build(nodes=[{"id": "a"}])."""
    return Topology.from_document(TopologyDocument.model_validate(sections), source="test.yaml")


def wan_org() -> Topology:
    """Dallas office and New York data centre joined by one WAN link, plus a Dallas-local server.

    crm (site-less) runs in New York; dallas-files runs in Dallas; both offices use crm.
    """
    return build(
        sites=[{"id": "dallas"}, {"id": "nyc-dc"}, {"id": "nyc-office"}],
        links=[
            {"id": "wan-dallas-nyc", "between": ["dallas", "nyc-dc"], "owner": "netops"},
            {"id": "metro-nyc", "between": ["nyc-office", "nyc-dc"], "owner": "netops"},
        ],
        teams=[{"id": "netops"}, {"id": "desk"}],
        nodes=[
            {"id": "crm-app", "site": "nyc-dc"},
            {"id": "crm", "kind": "business_service", "depends_on": ["crm-app"]},
            {"id": "nas", "site": "dallas", "kind": "storage"},
            {"id": "files", "kind": "business_service", "depends_on": ["nas"]},
            {
                "id": "sales-dallas",
                "kind": "user_group",
                "site": "dallas",
                "users": 120,
                "cost_per_user_hour": 85,
                "depends_on": ["crm", "files"],
            },
            {
                "id": "files-dallas",
                "kind": "user_group",
                "site": "dallas",
                "users": 30,
                "depends_on": ["files"],
            },
            {
                "id": "sales-nyc",
                "kind": "user_group",
                "site": "nyc-office",
                "users": 80,
                "depends_on": ["crm"],
            },
        ],
    )
