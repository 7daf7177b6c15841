"""The desk API (docs/desk.md) through the whole ASGI app, as a browser or curl sees it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from correlator.core.model import IncidentRecord
from correlator.desk.api import Desk
from correlator.desk.metrics import DeskCollector
from correlator.desk.subscriptions import Subscription, decode_subscription, encode_subscription
from correlator.desk.view import DeskView
from correlator.worker.http import Health, HttpService
from tests.support.http_client import HttpClient
from tests.unit.desk.conftest import at, by_title
from topology import Topology

TOKEN = "desk-secret"
NOW = at("2026-11-22T05:09:00Z")


class Client:
    def __init__(self, view: DeskView, topology: Topology, *, token: str | None = TOKEN) -> None:
        self.sent: list[Subscription] = []

        async def subscribe(subscription: Subscription) -> None:
            await asyncio.sleep(0)
            key, value = encode_subscription(subscription)
            decoded = decode_subscription(value)  # what the engine side will read
            assert key == f"{decoded.incident}/{decoded.user}".encode()
            self.sent.append(decoded)
            view.add_subscription(decoded.incident, decoded.user, decoded.requested_at)

        self.registry = CollectorRegistry()
        self.desk = Desk(view, lambda: topology, subscribe, token, clock=lambda: NOW)
        self.registry.register(DeskCollector(view, lambda: topology, lambda: NOW))
        self.health = Health()
        self.service = HttpService(self.registry, self.health, "127.0.0.1", 0, desk=self.desk)
        self.http = HttpClient(self.service.start().port)


@pytest.fixture
def client(view: DeskView, topology: Topology) -> Iterator[Client]:
    served = Client(view, topology)
    try:
        yield served
    finally:
        served.service.close()


def test_open_incidents_with_filters(client: Client, records: list[IncidentRecord]) -> None:
    wan = by_title(records, "WAN")
    answer = client.http.get("/api/v1/incidents").json()
    ids = [i["id"] for i in answer["incidents"]]
    assert wan.id in ids and len(ids) == 2
    first = answer["incidents"][0]
    assert first["schema"] == "correlator.incident/v1" and first["priority"] == 1
    assert first["desk"] == {"at_risk": False, "overdue": False, "subscribers": []}
    assert client.http.get("/api/v1/incidents?site=london").json() == {"incidents": []}
    assert client.http.get("/api/v1/incidents?status=resolved").json() == {"incidents": []}
    got = client.http.get("/api/v1/incidents", params={"assignment_group": "network-ops"})
    assert [i["id"] for i in got.json()["incidents"]] == [wan.id]
    assert client.http.get("/api/v1/incidents?status=bogus").status_code == 422


def test_one_incident_and_its_history(client: Client, records: list[IncidentRecord]) -> None:
    wan = by_title(records, "WAN")
    one = client.http.get(f"/api/v1/incidents/{wan.id}")
    assert one.status_code == 200 and one.json()["version"] == wan.version
    history = client.http.get(f"/api/v1/incidents/{wan.id}/history").json()["versions"]
    assert [v["version"] for v in history] == list(range(1, wan.version + 1))
    assert client.http.get("/api/v1/incidents/INC-NOPE").status_code == 404
    assert client.http.get("/api/v1/incidents/INC-NOPE/history").status_code == 404


def test_caller_lookup(client: Client, records: list[IncidentRecord]) -> None:
    wan = by_title(records, "WAN")
    answer = client.http.get("/api/v1/callers/alice@example.com").json()
    assert answer["user"] == {
        "id": "alice",
        "name": "Alice Moreno",
        "email": "alice@example.com",
        "groups": ["sales-dallas"],
        "site": "dallas",
        "site_name": "Dallas office",
    }
    listed = {i["id"]: i for i in answer["incidents"]}
    assert wan.id in listed and "in 21 minutes" in listed[wan.id]["say"]
    assert client.http.get("/api/v1/callers/dave").json()["incidents"] == []
    assert client.http.get("/api/v1/callers/nobody").status_code == 404


def test_impact_matches_the_command_line(client: Client, topology: Topology) -> None:
    answer = client.http.get("/api/v1/impact?node=wan-dallas-nyc").json()
    assert answer["failed"] == ["wan-dallas-nyc"]
    assert answer["users"] == topology.impact(["wan-dallas-nyc"]).users
    assert answer["resolver_groups"] == ["network-ops"]
    both = client.http.get(
        "/api/v1/impact", params=[("node", "crm-db"), ("node", "mpls-dal-nyc-01")]
    )
    assert both.json()["failed"] == ["crm-db", "wan-dallas-nyc"]
    assert client.http.get("/api/v1/impact?node=nope").status_code == 404
    assert client.http.get("/api/v1/impact").status_code == 422


def test_subscribing_needs_the_token_and_shows_at_once(
    client: Client, records: list[IncidentRecord]
) -> None:
    wan = by_title(records, "WAN")
    path = f"/api/v1/incidents/{wan.id}/subscriptions"
    assert client.http.post(path, json={"user": "alice"}).status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.http.post(path, json={"user": "nobody"}, headers=bearer).status_code == 404
    missing = "/api/v1/incidents/INC-NOPE/subscriptions"
    assert client.http.post(missing, json={"user": "alice"}, headers=bearer).status_code == 404
    answer = client.http.post(path, json={"user": "alice@example.com"}, headers=bearer)
    assert answer.status_code == 202 and answer.json()["user"] == "alice"
    assert [(s.incident, s.user) for s in client.sent] == [(wan.id, "alice")]
    shown = client.http.get(f"/api/v1/incidents/{wan.id}").json()
    assert shown["desk"]["subscribers"] == ["alice"]


def test_page_openapi_and_process_metrics(client: Client) -> None:
    page = client.http.get("/")
    assert page.status_code == 200 and "Caller lookup" in page.text
    assert client.http.get("/page/desk.js").status_code == 200
    assert client.http.get("/page/nope.js").status_code == 404
    paths = client.http.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/incidents",
        "/api/v1/incidents/{incident_id}",
        "/api/v1/incidents/{incident_id}/history",
        "/api/v1/callers/{who}",
        "/api/v1/impact",
        "/api/v1/incidents/{incident_id}/subscriptions",
    ):
        assert path in paths, path
    metrics = client.http.get("/metrics").text
    assert 'correlator_desk_people_affected{impact="cannot_work"} 200.0' in metrics
    assert "correlator_desk_updates_overdue 0.0" in metrics
    assert 'correlator_http_requests_total{code="200",path="/openapi.json"}' in metrics
    summary = client.http.get("/api/v1/summary").json()
    assert summary["cannot_work"] == 200 and summary["open_incidents"] == 2


def test_not_ready_until_the_view_caught_up(client: Client) -> None:
    client.health.topology_loaded = client.health.joined = True
    assert client.http.get("/readyz").status_code == 503
    client.desk.view.ready = True
    assert client.http.get("/readyz").status_code == 200
