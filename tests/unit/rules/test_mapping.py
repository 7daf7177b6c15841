from __future__ import annotations

from datetime import timedelta

from correlator.rules.mapping import map_alert, unmapped_key
from tests.unit.engine.conftest import alert
from topology import Topology

Z = timedelta(0)


def test_explicit_node_wins_over_labels(org: Topology) -> None:
    found = alert("a", "san", Z, labels={"service": "mail-server"})
    assert map_alert(org, found) == "san"


def test_topology_node_label_then_match_selectors(org: Topology) -> None:
    assert map_alert(org, alert("a", None, Z, labels={"topology_node": "db-host"})) == "db-host"
    assert map_alert(org, alert("a", None, Z, labels={"job": "exchange-exporter"})) == (
        "mail-server"
    )


def test_name_labels_in_order_with_instance_cut_at_its_port(org: Topology) -> None:
    labels = {"instance": "crm.example.com:443", "job": "mail-server"}
    assert map_alert(org, alert("a", None, Z, labels=labels)) == "crm-app"
    assert map_alert(org, alert("a", None, Z, labels={"host": "crm-db"})) == "crm-db"


def test_an_unknown_explicit_node_may_be_an_alias(org: Topology) -> None:
    assert map_alert(org, alert("a", "crm.example.com", Z)) == "crm-app"


def test_nothing_matching_is_unmapped(org: Topology) -> None:
    assert map_alert(org, alert("a", None, Z, labels={"service": "billing"})) is None


def test_unmapped_key_takes_the_first_grouping_label_present() -> None:
    assert unmapped_key("Down", {"instance": "10.0.0.1:9100", "job": "node"}) == "job=node"
    assert unmapped_key("Down", {"instance": "[::1]:9100"}) == "instance=::1"
    assert unmapped_key("Down", {}) == "alertname=Down"
