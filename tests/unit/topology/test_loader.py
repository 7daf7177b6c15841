"""Loading native YAML / JSON files, directories, Backstage catalogs and the bundled example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from topology import TopologyError, example_topology_path, load_example, load_topology

NATIVE = """
sites:
  - {id: dallas, name: Dallas office, kind: office}
teams:
  - {id: crm-team, name: CRM support, contact: crm@example.com}
nodes:
  - id: crm
    kind: service
    name: CRM
    owner: crm-team
    site: dallas
    criticality: high
    aliases: [crm.example.com]
    match:
      - {job: crm-exporter, port: 9100}
    depends_on: [crm-db]
    some_future_key: ignored
  - {id: crm-db, kind: database, site: dallas}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_load_yaml_file(tmp_path: Path) -> None:
    topo = load_topology(write(tmp_path / "org.yaml", NATIVE))
    info = topo.nodes["crm"]
    assert (info.kind, info.owner, info.site, info.criticality) == (
        "service",
        "crm-team",
        "dallas",
        "high",
    )
    assert topo.match({"job": "crm-exporter", "port": "9100"}) == "crm"
    assert topo.teams["crm-team"].contact == "crm@example.com"
    assert topo.sources == (str(tmp_path / "org.yaml"),)
    assert topo.defaults.cost_per_user_hour == 60


def test_load_json_file(tmp_path: Path) -> None:
    doc = {
        "nodes": [
            {"id": "a", "depends_on": [{"any_of": ["b", "c"], "min_healthy": 1}]},
            {"id": "b"},
            {"id": "c"},
        ],
        "defaults": {"cost_per_user_hour": 70, "currency": "GBP"},
    }
    topo = load_topology(write(tmp_path / "org.json", json.dumps(doc)))
    assert topo.down_set(["b"]) == {"b"}
    assert topo.defaults.currency == "GBP"


def test_directory_merges_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path / "b" / "two.yml", "nodes:\n  - {id: second, match: [{job: x}]}\n")
    write(tmp_path / "a.yaml", "nodes:\n  - {id: first, match: [{job: x}]}\n")
    write(tmp_path / ".hidden.yaml", "nodes:\n  - {id: hidden}\n")
    write(tmp_path / "kustomization.yaml", "resources: [x]\n")
    topo = load_topology(tmp_path)
    assert list(topo.nodes) == ["first", "second"]
    assert topo.match({"job": "x"}) == "first"


def test_defaults_in_two_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "nodes: [{id: a}]\ndefaults: {cost_per_user_hour: 1}\n")
    write(tmp_path / "b.yaml", "defaults: {cost_per_user_hour: 2}\n")
    with pytest.raises(TopologyError) as caught:
        load_topology(tmp_path)
    assert "b.yaml: defaults already set in" in str(caught.value)


def test_bad_field_names_file_and_node(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.yaml", "nodes:\n  - {id: crm, criticality: urgent}\n  - {id: ok}\n"
    )
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    (problem,) = caught.value.problems
    assert problem.file == str(path)
    assert problem.node == "crm"
    assert "criticality" in problem.message


def test_unparseable_yaml_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.yaml", "nodes: [\n")
    with pytest.raises(TopologyError, match=r"broken\.yaml: cannot read"):
        load_topology(path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="no such file"):
        load_topology(tmp_path / "nope")


CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: crm-system, title: CRM}
spec: {owner: group:default/crm-team, domain: sales}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: crm
  annotations:
    correlator.io/site: nyc-dc
    correlator.io/criticality: high
    correlator.io/aliases: "crm.example.com, crm-web"
spec:
  type: service
  owner: crm-team
  system: crm-system
  dependsOn: ["resource:default/crm-db"]
  consumesApis: [auth-api]
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: crm-db, annotations: {correlator.io/site: nyc-dc}}
spec: {type: database, owner: group:dba, system: crm-system}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: auth-api}
spec: {type: openapi, owner: dba}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: auth}
spec: {owner: dba, providesApis: [auth-api]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: sales-dallas
  annotations:
    correlator.io/users: "120"
    correlator.io/site: dallas
    correlator.io/depends-on: "system:crm-system"
spec:
  type: team
  profile: {displayName: Dallas sales, email: sales@example.com}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: crm-team}
spec: {type: team, profile: {email: crm-oncall@example.com}}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: alice}
spec:
  profile: {displayName: Alice Moreno, email: alice@example.com}
  memberOf: [group:default/sales-dallas, crm-team]
---
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata: {name: sales}
spec: {owner: crm-team}
"""

SITES = """
sites: [{id: dallas}, {id: nyc-dc}]
links: [{id: wan, between: [dallas, nyc-dc], owner: dba}]
teams: [{id: dba, name: DBAs}]
"""


def test_backstage_catalog_mixed_with_native(tmp_path: Path) -> None:
    write(tmp_path / "catalog-info.yaml", CATALOG)
    write(tmp_path / "sites.yaml", SITES)
    topo = load_topology(tmp_path)
    crm = topo.nodes["crm"]
    assert (crm.kind, crm.owner, crm.site, crm.criticality) == (
        "service",
        "crm-team",
        "nyc-dc",
        "high",
    )
    assert crm.aliases == ("crm.example.com", "crm-web")
    assert topo.nodes["crm-db"].kind == "database"
    system = topo.nodes["crm-system"]
    assert (system.kind, system.name, system.domain) == ("business_service", "CRM", "sales")
    # The WAN link is there because sales-dallas uses the system from Dallas (location rule).
    assert set(topo.dependencies("crm-system")) == {"crm", "crm-db", "wan"}
    assert topo.dependencies("crm")[:2] == ("crm-db", "auth-api")
    assert topo.dependencies("auth-api") == ("auth",)
    group = topo.nodes["sales-dallas"]
    assert (group.kind, group.users, group.site) == ("user_group", 120, "dallas")
    assert topo.teams["crm-team"].contact == "crm-oncall@example.com"
    assert topo.groups_of_user("alice") == ("sales-dallas", "crm-team")
    assert topo.users["alice"].email == "alice@example.com"
    # The location rule applies to catalog entities too.
    assert topo.impact(["wan"]).user_groups == ("sales-dallas",)


def test_backstage_unknown_dependency_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path / "catalog-info.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: web}\n"
        "spec: {dependsOn: ['resource:default/ghost-db']}\n",
    )
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert f"{path}: node 'web': depends on unknown node 'ghost-db'" in str(caught.value)


def test_example_organisation() -> None:
    topo = load_example()
    assert example_topology_path().is_dir()
    kinds = [info.kind for info in topo.nodes.values()]
    assert len([k for k in kinds if k != "link"]) >= 40
    assert kinds.count("business_service") >= 6
    assert {"dallas", "nyc-dc"} <= set(topo.sites)
    assert len([s for s in topo.sites.values() if s.kind == "datacentre"]) >= 2
    assert topo.links["wan-dallas-nyc"].between == ("dallas", "nyc-dc")
    assert topo.nodes["wan-dallas-nyc"].owner == "network-ops"
    assert topo.nodes["sales-dallas"].users == 120
    assert topo.groups_of_user("alice") == ("sales-dallas",)
    assert all(info.owner in topo.teams for info in topo.nodes.values())
    assert all(team.contact for team in topo.teams.values())
    assert topo.resolve("crm.example.com") == "crm"
