from __future__ import annotations

import pytest

from correlator.core.model import Affected
from correlator.rules.impact import assess
from topology import Topology


def test_no_root_no_impact(org: Topology) -> None:
    assert assess(org, ()) == (Affected(), 0.0, None)


def test_the_blast_radius_reaches_the_people_and_prices_their_hours(org: Topology) -> None:
    affected, per_hour, currency = assess(org, ("crm-db",))
    assert set(affected.business_services) == {"crm", "reporting"}
    assert set(affected.user_groups) == {"sales-dallas", "sales-nyc", "finance-nyc"}
    assert affected.users == 200
    # 120 people at 85 an hour, 80 more at the default 60
    assert per_hour == pytest.approx(120 * 85 + 80 * 60)
    assert currency == "USD"


def test_one_member_of_a_redundancy_pool_hurts_nobody(org: Topology) -> None:
    affected, per_hour, _ = assess(org, ("crm-web-1",))
    assert affected.users == 0
    assert per_hour == 0.0
    both, _, _ = assess(org, ("crm-web-1", "crm-web-2"))
    assert "crm" in both.business_services


def test_a_remote_link_takes_down_only_the_far_site(org: Topology) -> None:
    affected, _, _ = assess(org, ("wan-dallas-nyc",))
    assert affected.user_groups == ["sales-dallas"]
    assert affected.sites == ["dallas"]
