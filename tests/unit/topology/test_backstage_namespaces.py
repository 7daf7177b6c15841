"""Backstage namespaces in entity refs, and the catalog API's entity list JSON as topology."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from correlator.cli import main
from correlator.cli_errors import ExitCode
from topology import TopologyError, load_topology
from topology.backstage import Ref, parse_ref
from topology.loader import read_documents


def entity(kind: str, name: str, namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    annotations = spec.pop("annotations", None)
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}


def write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def yaml_docs(path: Path, entities: list[dict[str, Any]]) -> Path:
    # JSON is YAML: one document per entity, as a catalog-info.yaml would hold them.
    path.write_text("\n---\n".join(json.dumps(item) for item in entities))
    return path


# Two teams and two databases of the same names, in two namespaces; every relation field refers
# without a namespace, so each must resolve in its own entity's namespace.
TWO_NAMESPACES = [
    entity("Group", "crm-team"),
    entity("Group", "crm-team", "emea"),
    entity("Resource", "crm-db", type="database", owner="crm-team"),
    entity("Resource", "crm-db", "emea", type="database", owner="crm-team"),
    entity("API", "auth-api", "emea", owner="crm-team"),
    entity("Component", "auth", "emea", owner="crm-team", providesApis=["auth-api"]),
    entity(
        "Component",
        "crm",
        "emea",
        owner="group:crm-team",
        system="crm-system",
        dependsOn=["resource:crm-db"],
        consumesApis=["auth-api"],
    ),
    entity("Component", "crm", owner="crm-team", system="crm-system", dependsOn=["crm-db"]),
    entity("System", "crm-system", "emea", owner="crm-team", domain="sales"),
    entity("System", "crm-system", owner="crm-team", domain="sales"),
    entity("Domain", "sales", "emea", owner="crm-team"),
    entity(
        "Group",
        "sales-paris",
        "emea",
        annotations={"correlator.io/users": "40", "correlator.io/depends-on": "system:crm-system"},
    ),
    entity("User", "alice", "emea", memberOf=["sales-paris", "group:default/crm-team"]),
]


def test_same_name_in_two_namespaces_is_two_nodes(tmp_path: Path) -> None:
    topo = load_topology(yaml_docs(tmp_path / "catalog-info.yaml", TWO_NAMESPACES))
    # The default namespace keeps plain names: existing catalogs and alerts are unchanged.
    assert {"crm", "crm-db", "crm-system", "emea/crm", "emea/crm-db", "emea/crm-system"} <= set(
        topo.nodes
    )
    assert set(topo.teams) == {"crm-team", "emea/crm-team", "emea/sales-paris"}
    assert topo.dependencies("crm") == ("crm-db",)
    assert topo.dependencies("emea/crm") == ("emea/crm-db", "emea/auth-api")
    assert topo.dependencies("emea/auth-api") == ("emea/auth",)
    assert set(topo.dependencies("emea/crm-system")) == {"emea/crm"}
    assert set(topo.dependencies("crm-system")) == {"crm"}
    assert topo.nodes["crm-db"].owner == "crm-team"
    assert topo.nodes["emea/crm-db"].owner == "emea/crm-team"
    assert topo.nodes["emea/crm"].owner == "emea/crm-team"
    # A Domain entity in the namespace names the domain; the default one has none, so it is
    # the plain name as written.
    assert topo.nodes["emea/crm-system"].domain == "emea/sales"
    assert topo.nodes["crm-system"].domain == "sales"
    group = topo.nodes["emea/sales-paris"]
    assert (group.kind, group.users, group.owner) == ("user_group", 40, "emea/sales-paris")
    assert topo.dependencies("emea/sales-paris") == ("emea/crm-system",)
    assert topo.groups_of_user("emea/alice") == ("emea/sales-paris", "crm-team")
    # The failure of one namespace's database affects only its own services.
    assert "emea/crm" in topo.impact(["emea/crm-db"]).nodes
    assert "crm" not in topo.impact(["emea/crm-db"]).nodes


def test_refs_compare_case_insensitively_and_resolve_to_the_id_as_written(tmp_path: Path) -> None:
    entities = [
        entity("Resource", "CRM-db", "Billing", type="database"),
        entity("Resource", "Ledger"),
        entity("Component", "web", "billing", dependsOn=["Resource:BILLING/crm-DB", "crm-db"]),
        entity("Component", "api", dependsOn=["resource:DEFAULT/ledger", "Resource:ledger"]),
    ]
    topo = load_topology(yaml_docs(tmp_path / "catalog-info.yaml", entities))
    assert "Billing/CRM-db" in topo.nodes
    assert topo.dependencies("billing/web") == ("Billing/CRM-db",)
    assert topo.dependencies("api") == ("Ledger",)


def test_compound_references(tmp_path: Path) -> None:
    entities = [
        entity("Group", "dba", "ops"),
        entity("Resource", "db", "ops", type="database"),
        entity(
            "Component",
            "web",
            owner={"kind": "Group", "namespace": "ops", "name": "dba"},
            dependsOn=[{"kind": "resource", "namespace": "ops", "name": "db"}],
        ),
    ]
    topo = load_topology(yaml_docs(tmp_path / "catalog-info.yaml", entities))
    assert (topo.nodes["web"].owner, topo.dependencies("web")) == ("ops/dba", ("ops/db",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("crm", Ref(None, None, "crm")),
        ("group:crm-team", Ref("group", None, "crm-team")),
        ("emea/crm", Ref(None, "emea", "crm")),
        ("resource:default/crm-db", Ref("resource", "default", "crm-db")),
        # A `/` before any `:` makes the rest the name, as Backstage's parseEntityRef does.
        ("emea/a:b", Ref(None, "emea", "a:b")),
        ("", None),
    ],
)
def test_parse_ref(text: str, expected: Ref | None) -> None:
    assert parse_ref(text) == expected


def test_duplicate_in_one_namespace_is_refused_naming_the_files(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        yaml_docs(tmp_path / folder / "catalog-info.yaml", [entity("Resource", "db", "ops")])
    with pytest.raises(TopologyError) as caught:
        load_topology(tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / 'b' / 'catalog-info.yaml'}: node 'ops/db': duplicate id" in message
    assert str(tmp_path / "a" / "catalog-info.yaml") in message


def test_duplicate_differing_only_in_case_is_refused(tmp_path: Path) -> None:
    first = yaml_docs(tmp_path / "a.yaml", [entity("Resource", "db", "Ops")])
    second = yaml_docs(tmp_path / "b.yaml", [entity("Resource", "DB", "ops")])
    with pytest.raises(TopologyError) as caught:
        load_topology(tmp_path)
    message = str(caught.value)
    assert f"{second}: node 'ops/DB': duplicate catalog entity resource:ops/DB" in message
    assert f"first defined as resource:Ops/db in {first}" in message


def test_unknown_namespaced_reference_is_named(tmp_path: Path) -> None:
    path = yaml_docs(tmp_path / "c.yaml", [entity("Component", "web", "shop", dependsOn=["db"])])
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    assert f"{path}: node 'shop/web': depends on unknown node 'shop/db'" in str(caught.value)


# --- the catalog API's entity list -------------------------------------------------------------

API_ENTITIES = [
    # As the API returns them: namespace always set, uid/etag, relations (ignored: spec is read).
    {
        **entity("Component", "crm", "default", owner="group:default/crm-team", dependsOn=["db"]),
        "relations": [{"type": "dependsOn", "targetRef": "resource:default/db"}],
    },
    entity("Resource", "db", "default", type="database", owner="crm-team"),
    entity("Group", "crm-team", "default"),
    entity("Location", "root", "default", type="url", target="https://example.com/all.yaml"),
]
for _item in API_ENTITIES:
    _item["metadata"] |= {"uid": f"uid-{_item['metadata']['name']}", "etag": "e1"}


def test_entity_list_array(tmp_path: Path) -> None:
    topo = load_topology(write_json(tmp_path / "entities.json", API_ENTITIES))
    assert set(topo.nodes) == {"crm", "db"}
    assert topo.dependencies("crm") == ("db",)
    assert (topo.nodes["db"].kind, topo.nodes["crm"].owner) == ("database", "crm-team")


def test_entity_list_by_query_and_by_refs(tmp_path: Path) -> None:
    by_query = {"items": API_ENTITIES, "totalItems": 4, "pageInfo": {"nextCursor": "abc"}}
    topo = load_topology(write_json(tmp_path / "by-query.json", by_query))
    assert topo.dependencies("crm") == ("db",)
    # by-refs answers null for a ref it does not know.
    by_refs = {"items": [API_ENTITIES[0], None, API_ENTITIES[1], API_ENTITIES[2]]}
    assert set(load_topology(write_json(tmp_path / "by-refs.json", by_refs)).nodes) == {"crm", "db"}


def test_entity_list_mixes_with_native_files_and_other_entity_files(tmp_path: Path) -> None:
    write_json(tmp_path / "catalog.json", API_ENTITIES)
    (tmp_path / "sites.yaml").write_text("nodes: [{id: web, depends_on: [crm]}]\n")
    yaml_docs(tmp_path / "more.yaml", [entity("Component", "mail", dependsOn=["resource:db"])])
    documents = read_documents(tmp_path)
    assert [Path(doc.source).name for doc in documents] == [
        "sites.yaml",
        "catalog.json",
        "more.yaml",
    ]
    topo = load_topology(tmp_path)
    assert topo.dependencies("web") == ("crm",)
    assert topo.dependencies("mail") == ("db",)


def test_entity_list_problems_name_the_file(tmp_path: Path) -> None:
    path = write_json(tmp_path / "entities.json", [API_ENTITIES[0], {"metadata": {}}, 3])
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    message = str(caught.value)
    assert f"{path}: no topology content" in message
    assert f"{path}: a document must be a mapping" in message


def test_a_native_json_file_is_not_taken_for_a_list(tmp_path: Path) -> None:
    native = {"nodes": [{"id": "a"}], "items": ["not", "entities"]}
    assert set(load_topology(write_json(tmp_path / "org.json", native)).nodes) == {"a"}


def test_topology_check_on_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listing = write_json(tmp_path / "entities.json", {"items": API_ENTITIES})
    assert main(["topology", "check", str(listing)]) == ExitCode.OK
    assert "OK: 2 nodes (1 database, 1 service), 0 sites, 1 teams" in capsys.readouterr().out
    catalog = yaml_docs(tmp_path / "catalog-info.yaml", TWO_NAMESPACES)
    assert main(["topology", "check", str(catalog)]) == ExitCode.OK
    assert "OK: 9 nodes (1 api, 2 business_service, 2 database, 3 service, 1 user_group)" in (
        capsys.readouterr().out
    )
    bad = yaml_docs(tmp_path / "bad.yaml", [entity("Component", "web", "shop", dependsOn=["x"])])
    assert main(["topology", "check", str(bad)]) == ExitCode.DATA
    assert "depends on unknown node 'shop/x'" in capsys.readouterr().err
