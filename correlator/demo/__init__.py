"""`correlator demo`: a bundled outage on the example organisation, told as it unfolds.

05:00  the Dallas - New York WAN circuit drops (seen by Prometheus and by the carrier's PagerDuty)
05:05  Alertmanager re-sends the circuit alert: nothing new to tell anyone
05:08  a Dallas NAS warns about disk space: unrelated, a small incident of its own
05:12  both CRM web servers fail, then the CRM database behind them alerts: one incident, whose
       cause is named before the database's own alert arrives, and confirmed when it does
05:14  a Chicago mail server fails; its twin in New York carries the mail: nobody is affected
05:40  things recover; each incident resolves after the hold-down
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from correlator.core.engine import Correlator
from correlator.core.model import Alert, IncidentRecord
from correlator.replay import EPOCH
from correlator.wire.decode import decode
from correlator.wire.render.record import build_record
from correlator.wire.render.text import describe_update, display_names, plural, utc_time
from topology import Topology, load_example

START = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
_NEVER = "0001-01-01T00:00:00Z"


def _ts(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _am_alert(
    name: str, labels: dict[str, str], summary: str, start: float, end: float | None = None
) -> dict[str, Any]:
    return {
        "status": "resolved" if end is not None else "firing",
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": summary},
        "startsAt": _ts(start),
        "endsAt": _ts(end) if end is not None else _NEVER,
        "generatorURL": "http://prometheus.example.net:9090/graph",
    }


def _webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    first = alerts[0]
    return {
        "version": "4",
        "groupKey": '{}:{alertname="' + first["labels"]["alertname"] + '"}',
        "truncatedAlerts": 0,
        "status": "resolved" if all(a["status"] == "resolved" for a in alerts) else "firing",
        "receiver": "correlator",
        "groupLabels": {"alertname": first["labels"]["alertname"]},
        "commonLabels": first["labels"],
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.net:9093",
        "alerts": list(alerts),
    }


def _native(
    fingerprint: str,
    node: str,
    name: str,
    summary: str,
    minutes: float,
    *,
    status: str = "firing",
    severity: str = "critical",
    started: float | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "source": "nagios",
        "fingerprint": fingerprint,
        "status": status,
        "severity": severity,
        "node": node,
        "name": name,
        "summary": summary,
        "labels": {},
        "timestamp": _ts(minutes),
    }
    if started is not None:
        event["starts_at"] = _ts(started)
    return event


def _pagerduty(action: str, key: str, minutes: float | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": "R0UTINGKEY0000000000000000000000",
        "event_action": action,
        "dedup_key": key,
    }
    if action == "trigger":
        event["payload"] = {
            "summary": "Carrier reports circuit MPLS-DAL-NYC-01 down (loss of signal)",
            "source": "mpls-dal-nyc-01",
            "severity": "critical",
            "component": "wan",
            "class": "CircuitDown",
            "timestamp": _ts(minutes or 0),
        }
    return event


def demo_events() -> list[bytes]:
    """The outage as raw messages, one per line, in the formats monitoring actually sends."""
    wan = {
        "job": "snmp",
        "instance": "mpls-dal-nyc-01:161",
        "severity": "critical",
        "topology_node": "wan-dallas-nyc",
    }
    wan_summary = "Interface Gi0/1 (MPLS to New York) is down on the Dallas edge router"
    nas = {"job": "node", "instance": "dal-nas-1:9100", "severity": "warning", "host": "dal-nas-1"}
    web = {"job": "blackbox", "severity": "critical"}
    events: list[dict[str, Any]] = [
        _webhook(_am_alert("WANLinkDown", wan, wan_summary, 0.0)),
        _pagerduty("trigger", "carrier-mpls-dal-nyc-01", 0.6),
        # Alertmanager's repeat: the same alert again, nothing new.
        _webhook(_am_alert("WANLinkDown", wan, wan_summary, 0.0)),
        _webhook(_am_alert("DiskSpaceLow", nas, "/srv/share at 91% on dal-nas-1", 8.0)),
        _webhook(
            _am_alert(
                "HTTPErrors",
                {**web, "service": "crm-web-1"},
                "CRM web 1 answers 503 to 100% of requests",
                12.0,
            ),
        ),
        _webhook(
            _am_alert(
                "HTTPErrors",
                {**web, "service": "crm-web-2"},
                "CRM web 2 answers 503 to 100% of requests",
                12.1,
            ),
        ),
        _native(
            "pg-crm-db",
            "crm-db",
            "PostgresDown",
            "PostgreSQL on crm-db not accepting connections",
            12.6,
        ),
        _native("mail-2-smtp", "mail-2", "SMTPDown", "mail-2 does not answer on port 25", 14.0),
        _webhook(_am_alert("WANLinkDown", wan, wan_summary, 0.0, 40.0)),
        _pagerduty("resolve", "carrier-mpls-dal-nyc-01"),
        _native(
            "pg-crm-db",
            "crm-db",
            "PostgresDown",
            "PostgreSQL accepting connections again",
            48.0,
            status="resolved",
            started=12.6,
        ),
        _webhook(
            _am_alert(
                "HTTPErrors",
                {**web, "service": "crm-web-1"},
                "CRM web 1 answers 503 to 100% of requests",
                12.0,
                48.5,
            ),
            _am_alert(
                "HTTPErrors",
                {**web, "service": "crm-web-2"},
                "CRM web 2 answers 503 to 100% of requests",
                12.1,
                48.5,
            ),
        ),
        _native(
            "mail-2-smtp",
            "mail-2",
            "SMTPDown",
            "mail-2 answers again",
            50.0,
            status="resolved",
            started=14.0,
        ),
        _webhook(_am_alert("DiskSpaceLow", nas, "/srv/share at 91% on dal-nas-1", 8.0, 55.0)),
    ]
    return [orjson.dumps(e) for e in events]


def _input_lines(alerts: Sequence[Alert], engine: Correlator) -> Iterator[str]:
    for alert in alerts:
        known = engine.alerts.get(alert.fingerprint)
        name = known.name if known is not None else alert.name
        verb = "cleared" if alert.status == "resolved" else "FIRING"
        when = utc_time(alert.event_time, START.date(), seconds=True)
        text = alert.summary if alert.summary and alert.summary != alert.name else ""
        if not text and known is not None:
            text = known.summary
        yield f"{when}  alert {verb:7} {name} ({alert.source}): {text}"


def run_demo(*, as_json: bool = False, topology: Topology | None = None) -> int:
    topology = topology or load_example()
    engine = Correlator(topology, render=build_record)
    names = display_names(topology)
    out = sys.stdout
    if not as_json:
        people = sum(n.users for n in topology.nodes.values() if n.kind == "user_group")
        out.write(
            f"Example Corp: {len(topology.nodes)} components, {len(topology.sites)} sites, "
            f"{people} people. Replaying the morning of {START.date().isoformat()} through the "
            "correlator (times in UTC).\n\n"
        )
    records: list[IncidentRecord] = []
    messages = demo_events()
    for raw in messages:
        alerts = decode(raw, received_at=engine.clock or EPOCH)
        if alerts:
            # Let the clock reach this message first, so hold-downs that expired before it
            # are told in their place in the story.
            for update in engine.tick(alerts[0].event_time):
                records.append(update.record)
                _show(update.record, names, as_json)
        if not as_json:
            for line in _input_lines(alerts, engine):
                out.write(line + "\n")
        for update in engine.ingest_many((a, a.event_time) for a in alerts):
            records.append(update.record)
            _show(update.record, names, as_json)
    assert engine.clock is not None
    for update in engine.tick(engine.clock + timedelta(minutes=10)):
        records.append(update.record)
        _show(update.record, names, as_json)
    if not as_json:
        counts = engine.counters
        opened = len({r.id for r in records})
        out.write(
            f"\n{plural(len(messages), 'message')} in, "
            f"{plural(counts['alerts_resend'], 're-send')} absorbed, "
            f"{plural(opened, 'incident')}, {plural(len(records), 'update')} published.\n"
        )
    return 0


def _show(record: IncidentRecord, names: dict[str, str], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(record.to_json().decode() + "\n")
    else:
        sys.stdout.write("\n" + describe_update(record, names=names) + "\n\n")
