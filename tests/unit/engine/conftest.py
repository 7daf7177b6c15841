"""A small organisation whose answers can be worked out by hand, and helpers to drive the engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from correlator.core.engine import Correlator
from correlator.core.model import Alert
from correlator.core.settings import EngineSettings
from correlator.wire.render.record import build_record
from topology import Topology, load_topology

ORG = """
sites:
  - {id: dallas, name: Dallas office}
  - {id: nyc-dc, name: New York data centre}
links:
  - {id: wan-dallas-nyc, between: [dallas, nyc-dc], owner: network-ops}
teams:
  - {id: network-ops, name: Network operations, contact: noc@example.com}
  - {id: dba, name: Database team, contact: dba@example.com}
  - {id: crm-team, name: CRM support, contact: crm@example.com}
  - {id: mail-team, name: Mail team, contact: mail@example.com}
  - {id: dallas-it, name: Dallas IT, contact: dallas-it@example.com}
  - {id: storage, name: Storage team, contact: storage@example.com}
nodes:
  - {id: nyc-core, kind: network, name: NYC core switch, owner: network-ops, site: nyc-dc}
  - {id: san, kind: storage, name: NYC SAN, owner: storage, site: nyc-dc, depends_on: [nyc-core]}
  - {id: db-host, kind: host, name: DB host, owner: dba, site: nyc-dc, depends_on: [san]}
  - {id: crm-db, kind: database, name: CRM database, owner: dba, site: nyc-dc,
     criticality: high, depends_on: [db-host]}
  - {id: crm-web-1, kind: host, name: CRM web 1, owner: crm-team, site: nyc-dc,
     depends_on: [nyc-core]}
  - {id: crm-web-2, kind: host, name: CRM web 2, owner: crm-team, site: nyc-dc,
     depends_on: [nyc-core]}
  - id: crm-app
    kind: service
    name: CRM application
    owner: crm-team
    site: nyc-dc
    aliases: [crm.example.com]
    depends_on: [crm-db, {any_of: [crm-web-1, crm-web-2], min_healthy: 1}]
  - {id: reporting-app, kind: service, name: Reporting, owner: crm-team, site: nyc-dc,
     depends_on: [crm-db]}
  - {id: mail-server, kind: service, name: Mail server, owner: mail-team, site: nyc-dc,
     depends_on: [nyc-core], match: [{job: exchange-exporter}]}
  - {id: crm, kind: business_service, name: CRM, owner: crm-team, depends_on: [crm-app]}
  - {id: reporting, kind: business_service, name: Sales reporting, owner: crm-team,
     depends_on: [reporting-app]}
  - {id: email, kind: business_service, name: E-mail, owner: mail-team, depends_on: [mail-server]}
  - {id: dallas-printer, kind: host, name: Dallas printer, owner: dallas-it, site: dallas}
  - {id: sales-dallas, kind: user_group, name: Dallas sales, site: dallas, users: 120,
     cost_per_user_hour: 85, depends_on: [crm, email, dallas-printer]}
  - {id: sales-nyc, kind: user_group, name: NYC sales, site: nyc-dc, users: 50,
     depends_on: [crm, email]}
  - {id: finance-nyc, kind: user_group, name: NYC finance, site: nyc-dc, users: 30,
     depends_on: [reporting]}
defaults: {cost_per_user_hour: 60, currency: USD}
"""

T0 = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)


@pytest.fixture
def org(tmp_path: Path) -> Topology:
    path = tmp_path / "org.yaml"
    path.write_text(ORG)
    return load_topology(path)


def alert(
    fingerprint: str,
    node: str | None,
    at: timedelta | datetime,
    *,
    status: str = "firing",
    name: str = "Down",
    severity: str = "critical",
    started: timedelta | None = None,
    labels: dict[str, str] | None = None,
) -> Alert:
    when = T0 + at if isinstance(at, timedelta) else at
    starts = T0 + started if started is not None else when
    return Alert(
        fingerprint=fingerprint,
        name=name,
        status=status,  # type: ignore[arg-type]
        severity=severity,
        summary=f"{name} on {node}",
        source="test",
        labels=dict(labels or {}),
        starts_at=starts if status == "resolved" else when,
        ends_at=when if status == "resolved" else None,
        node=node,
    )


Feed = Callable[..., list]


@pytest.fixture
def engine(org: Topology) -> Correlator:
    return Correlator(org, EngineSettings(), render=build_record)


def feed(engine: Correlator, *alerts: Alert) -> list:
    out = []
    for a in alerts:
        out.extend(u.record for u in engine.ingest(a, a.event_time))
    return out


def latest(records: list) -> dict:
    result: dict = {}
    for r in records:
        result[r.id] = r
    return result
