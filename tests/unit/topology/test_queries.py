"""Neighbourhood queries, name resolution, matching, domains, directory, immutability."""

from __future__ import annotations

import gc

import pytest

from topology import Topology

from .helpers import build, wan_org


def chain() -> Topology:
    # top -> mid -> any_of[r1, r2] ; mid -> base -> floor
    return build(
        nodes=[
            {"id": "floor"},
            {"id": "base", "depends_on": ["floor"]},
            {"id": "r1", "depends_on": ["floor"]},
            {"id": "r2"},
            {"id": "mid", "depends_on": ["base", {"any_of": ["r1", "r2"]}]},
            {"id": "top", "depends_on": ["mid"]},
        ]
    )


def test_causes_skip_redundant_members_and_honour_max_hops() -> None:
    topo = chain()
    assert dict(topo.causes("top", 1)) == {"mid": 1}
    assert dict(topo.causes("top", 2)) == {"mid": 1, "base": 2}
    # floor is reached at 3 hops; it takes base down, so top too (r1 going with it is moot).
    assert dict(topo.causes("top", 3)) == {"mid": 1, "base": 2, "floor": 3}
    assert dict(topo.causes("top", 0)) == {}


def test_shared_cause_of_all_members_is_a_cause() -> None:
    topo = build(
        nodes=[
            {"id": "rack"},
            {"id": "w1", "depends_on": ["rack"]},
            {"id": "w2", "depends_on": ["rack"]},
            {"id": "w3"},
            {"id": "app", "depends_on": [{"any_of": ["w1", "w2", "w3"], "min_healthy": 2}]},
        ]
    )
    assert dict(topo.causes("app", 5)) == {"rack": 2}


def test_effects_honour_redundancy_and_max_hops() -> None:
    topo = chain()
    assert dict(topo.effects("r1", 5)) == {}
    assert dict(topo.effects("floor", 5)) == {"base": 1, "r1": 1, "mid": 2, "top": 3}
    assert dict(topo.effects("floor", 2)) == {"base": 1, "r1": 1, "mid": 2}


def test_location_rule_in_causes_and_effects() -> None:
    topo = wan_org()
    assert topo.causes("sales-dallas", 2)["wan-dallas-nyc"] == 2
    assert "wan-dallas-nyc" not in topo.causes("sales-nyc", 5)
    effects = topo.effects("wan-dallas-nyc", 3)
    assert effects == {"crm": 1, "sales-dallas": 2}


def test_unknown_node_raises_key_error() -> None:
    with pytest.raises(KeyError):
        chain().causes("nope", 2)


def test_dependencies_and_dependents_include_link_edges() -> None:
    topo = wan_org()
    assert topo.dependencies("crm") == ("crm-app", "wan-dallas-nyc", "metro-nyc")
    assert topo.dependents("wan-dallas-nyc") == ("crm",)
    assert topo.dependents("crm") == ("sales-dallas", "sales-nyc")


def test_resolve_ids_and_aliases() -> None:
    topo = build(
        nodes=[
            {"id": "crm", "aliases": ["crm.example.com"]},
            {"id": "CRM-Legacy"},
        ]
    )
    assert topo.resolve("crm") == "crm"
    assert topo.resolve("crm.example.com") == "crm"
    assert topo.resolve("CRM.Example.COM") == "crm"
    assert topo.resolve("crm-legacy") == "CRM-Legacy"
    assert topo.resolve("unknown") is None


def test_match_first_in_load_order_and_all_pairs_required() -> None:
    topo = build(
        nodes=[
            {"id": "a", "match": [{"job": "node", "instance": "h1"}]},
            {"id": "b", "match": [{"job": "node"}]},
            {"id": "c", "match": [{"env": "x"}, {"instance": "h1", "job": "node"}]},
        ]
    )
    assert topo.match({"job": "node", "instance": "h1", "other": "1"}) == "a"
    assert topo.match({"job": "node", "instance": "h2"}) == "b"
    assert topo.match({"env": "x"}) == "c"
    assert topo.match({"instance": "h1"}) is None
    assert topo.match({}) is None


def test_match_index_scales() -> None:
    nodes = [
        {"id": f"svc-{i}", "match": [{"job": "node", "instance": f"h{i}"}]} for i in range(3000)
    ]
    topo = build(nodes=nodes)
    assert topo.match({"job": "node", "instance": "h2999"}) == "svc-2999"
    assert topo.match({"job": "node", "instance": "nope"}) is None


def test_domains_explicit_inherited_and_by_component() -> None:
    topo = build(
        nodes=[
            {"id": "db"},
            {"id": "app", "depends_on": ["db"]},
            {"id": "bs", "kind": "business_service", "domain": "sales", "depends_on": ["app"]},
            {"id": "zz-alone"},
            {"id": "m-2", "depends_on": ["m-1"]},
            {"id": "m-1"},
        ]
    )
    assert topo.domain_of("bs") == "sales"
    assert topo.domain_of("app") == "sales"
    assert topo.domain_of("db") == "sales"
    assert topo.domain_of("zz-alone") == "zz-alone"
    assert topo.domain_of("m-2") == "m-1"


def test_users_in_groups_and_groups_of_user() -> None:
    topo = build(
        nodes=[{"id": "g1", "kind": "user_group"}, {"id": "g2", "kind": "user_group"}],
        users=[
            {"id": "alice", "groups": ["g1"]},
            {"id": "bob", "groups": ["g2", "g1"]},
            {"id": "carol", "groups": ["g2"]},
        ],
    )
    assert [u.id for u in topo.users_in_groups(["g2", "g1"])] == ["alice", "bob", "carol"]
    assert [u.id for u in topo.users_in_groups(["g1"])] == ["alice", "bob"]
    assert topo.groups_of_user("bob") == ("g2", "g1")
    assert topo.groups_of_user("nobody") == ()


def test_topology_is_immutable() -> None:
    topo = wan_org()
    with pytest.raises(AttributeError):
        topo.digest = "x"
    with pytest.raises(TypeError):
        topo.nodes["x"] = topo.nodes["crm"]  # type: ignore[index]


def test_links_appear_as_nodes() -> None:
    topo = wan_org()
    info = topo.nodes["wan-dallas-nyc"]
    assert (info.kind, info.site, info.owner) == ("link", None, "netops")
    assert "wan-dallas-nyc" in topo
    assert len(topo) == 9


def test_digest_is_stable_and_content_sensitive() -> None:
    assert wan_org().digest == wan_org().digest
    assert build(nodes=[{"id": "a"}]).digest != build(nodes=[{"id": "b"}]).digest


def test_a_dropped_topology_is_freed_without_the_collector() -> None:
    # load_topology calls gc.freeze(): a reloaded-away topology caught in a reference cycle
    # would then live forever. Reference counting alone must free it.
    topo = wan_org()
    topo.impact(["crm-app"])
    topo.causes("sales-dallas", 3)
    topo.effects("crm-app", 3)
    gc.collect()
    del topo
    assert gc.collect() == 0
