"""Failure propagation: redundancy groups, the location rule, head counts and cost."""

from __future__ import annotations

import pytest

from topology import Topology, load_example

from .helpers import build, wan_org


def pool_org(min_healthy: int = 1) -> Topology:
    return build(
        nodes=[
            {"id": "web-1"},
            {"id": "web-2"},
            {"id": "web-3"},
            {"id": "db"},
            {
                "id": "app",
                "depends_on": [
                    "db",
                    {"any_of": ["web-1", "web-2", "web-3"], "min_healthy": min_healthy},
                ],
            },
            {"id": "users", "kind": "user_group", "users": 10, "depends_on": ["app"]},
        ]
    )


def test_one_pool_member_down_leaves_dependents_up() -> None:
    topo = pool_org(min_healthy=2)
    assert topo.down_set(["web-1"]) == {"web-1"}


def test_pool_below_min_healthy_takes_dependents_down() -> None:
    topo = pool_org(min_healthy=2)
    assert topo.down_set(["web-1", "web-3"]) == {"web-1", "web-3", "app", "users"}


def test_all_members_down_with_min_healthy_one() -> None:
    topo = pool_org(min_healthy=1)
    assert topo.down_set(["web-1", "web-2"]) == {"web-1", "web-2"}
    assert "app" in topo.down_set(["web-1", "web-2", "web-3"])


def test_plain_dependency_down_propagates_transitively() -> None:
    topo = pool_org()
    assert topo.down_set(["db"]) == {"db", "app", "users"}


def test_unknown_ids_are_ignored() -> None:
    assert pool_org().down_set(["nope", "db"]) == {"db", "app", "users"}


def test_wan_link_affects_only_remote_users_of_remote_things() -> None:
    topo = wan_org()
    affected = topo.impact(["wan-dallas-nyc"])
    # Dallas people using the New York CRM are down; New York people using it are not, and
    # Dallas people who only use the Dallas file share are not either.
    assert affected.user_groups == ("sales-dallas",)
    assert "sales-nyc" not in affected.nodes
    assert "files-dallas" not in affected.nodes
    assert "files" not in affected.nodes
    assert affected.users == 120
    assert affected.sites == ("dallas",)


def test_site_less_business_service_is_down_only_as_seen_from_the_cut_site() -> None:
    topo = wan_org()
    # crm counts as affected (its Dallas view is down) but crm-app itself is fine.
    affected = topo.impact(["wan-dallas-nyc"])
    assert affected.business_services == ("crm",)
    assert affected.services == ("wan-dallas-nyc",)
    # The metro link cut takes crm down for New York office people only.
    assert topo.impact(["metro-nyc"]).user_groups == ("sales-nyc",)


def test_failure_at_the_data_centre_hits_every_site() -> None:
    affected = wan_org().impact(["crm-app"])
    assert affected.user_groups == ("sales-dallas", "sales-nyc")
    assert affected.users == 200
    assert affected.sites == ("dallas", "nyc-dc", "nyc-office")


def test_link_path_belongs_to_the_redundancy_member() -> None:
    topo = build(
        sites=[{"id": "office"}, {"id": "dc-a"}, {"id": "dc-b"}],
        links=[
            {"id": "wan-a", "between": ["office", "dc-a"]},
            {"id": "wan-b", "between": ["office", "dc-b"]},
        ],
        nodes=[
            {"id": "mail-a", "site": "dc-a"},
            {"id": "mail-b", "site": "dc-b"},
            {
                "id": "email",
                "kind": "business_service",
                "depends_on": [{"any_of": ["mail-a", "mail-b"]}],
            },
            {
                "id": "staff",
                "kind": "user_group",
                "site": "office",
                "users": 5,
                "depends_on": ["email"],
            },
        ],
    )
    assert "staff" not in topo.down_set(["wan-a"])
    assert "staff" not in topo.down_set(["mail-b"])
    # One member's server down and the other's path cut: no healthy member left.
    assert "staff" in topo.down_set(["mail-a", "wan-b"])
    assert "staff" in topo.down_set(["wan-a", "wan-b"])


def test_multi_hop_path_and_parallel_links() -> None:
    topo = build(
        sites=[{"id": "london"}, {"id": "nyc"}, {"id": "chicago"}],
        links=[
            {"id": "atlantic-1", "between": ["london", "nyc"]},
            {"id": "atlantic-2", "between": ["nyc", "london"]},
            {"id": "nyc-chi", "between": ["nyc", "chicago"]},
        ],
        nodes=[
            {"id": "erp", "site": "chicago"},
            {
                "id": "london-staff",
                "kind": "user_group",
                "site": "london",
                "users": 7,
                "depends_on": ["erp"],
            },
        ],
    )
    assert "london-staff" in topo.down_set(["nyc-chi"])
    # Two circuits across the Atlantic: one alone is not enough to cut London off.
    assert "london-staff" not in topo.down_set(["atlantic-1"])
    assert "london-staff" in topo.down_set(["atlantic-1", "atlantic-2"])
    assert set(topo.dependencies("london-staff")) == {"erp", "atlantic-1", "atlantic-2", "nyc-chi"}


def test_unreachable_sites_mean_no_link_dependency() -> None:
    topo = build(
        sites=[{"id": "island"}, {"id": "dc"}],
        nodes=[
            {"id": "app", "site": "dc"},
            {"id": "people", "kind": "user_group", "site": "island", "depends_on": ["app"]},
        ],
    )
    assert topo.dependencies("people") == ("app",)
    assert topo.down_set(["app"]) == {"app", "people"}


def test_head_count_summed_once_per_group() -> None:
    topo = build(
        defaults={"cost_per_user_hour": 50, "currency": "EUR"},
        nodes=[
            {"id": "a"},
            {"id": "b"},
            {"id": "g", "kind": "user_group", "users": 10, "depends_on": ["a", "b"]},
            {
                "id": "h",
                "kind": "user_group",
                "users": 4,
                "cost_per_user_hour": 100,
                "depends_on": ["a"],
            },
        ],
    )
    affected = topo.impact(["a", "b"])
    assert affected.user_groups == ("g", "h")
    assert affected.users == 14
    assert affected.cost_per_hour == pytest.approx(10 * 50 + 4 * 100)
    assert affected.currency == "EUR"


def test_impact_of_example_wan_cut() -> None:
    affected = load_example().impact(["wan-dallas-nyc"])
    assert set(affected.user_groups) == {"sales-dallas", "support-dallas", "finance-dallas"}
    assert affected.users == 200
    assert "email" not in affected.business_services  # the Chicago mail server still serves
    assert "crm" in affected.business_services
    assert "dallas-files" not in affected.business_services


def test_example_crm_db_hits_two_business_services() -> None:
    affected = load_example().impact(["crm-db"])
    assert {"crm", "reporting"} <= set(affected.business_services)


def test_results_are_cached_and_equal() -> None:
    topo = wan_org()
    first = topo.impact(["crm-app"])
    assert topo.impact(("crm-app",)) is first
    assert topo.down_set(frozenset({"crm-app"})) is first.nodes
