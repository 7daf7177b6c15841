"""Routing: alerts that can correlate meet in one engine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from correlator.core.model import Alert
from correlator.worker.routing import partition_for, routing_key
from tests.support.scenario import write_org
from topology import load_topology

T = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)


def _alert(**kw: object) -> Alert:
    base: dict[str, object] = {
        "fingerprint": "f",
        "name": "Down",
        "status": "firing",
        "starts_at": T,
    }
    base.update(kw)
    return Alert.model_validate(base)


def test_alerts_of_one_domain_share_a_key_and_partition(tmp_path: Path) -> None:
    topo = load_topology(write_org(tmp_path))
    east = {routing_key(topo, _alert(node=n)) for n in ("core-e", "db-e", "users-e")}
    west = {routing_key(topo, _alert(labels={"topology_node": n})) for n in ("core-w", "app-w")}
    assert len(east) == 1 and len(west) == 1 and east != west
    assert next(iter(east)).startswith("domain:")


def test_unmapped_alerts_are_keyed_by_their_grouping_label(tmp_path: Path) -> None:
    topo = load_topology(write_org(tmp_path))
    key = routing_key(topo, _alert(labels={"job": "billing-exporter", "instance": "x:1"}))
    assert key == "unmapped:job=billing-exporter"


def test_partition_is_stable_and_in_range() -> None:
    assert partition_for("domain:app-e", 12) == partition_for("domain:app-e", 12)
    assert {partition_for(f"k{i}", 7) for i in range(200)} == set(range(7))
