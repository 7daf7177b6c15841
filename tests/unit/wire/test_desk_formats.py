"""ServiceNow incident-table and PagerDuty Events v2 renderings, and the format registry."""

from __future__ import annotations

import orjson
import pytest
from jsonschema import Draft202012Validator

from correlator.core.model import IncidentRecord
from correlator.errors import CorrelatorError
from correlator.wire.render.outputs import OUTPUT_FORMATS, render_output
from correlator.wire.render.pagerduty import pagerduty_event
from correlator.wire.render.servicenow import SHORT_DESCRIPTION_MAX

from .conftest import with_changes

#: PagerDuty Events API v2 request body, transcribed from PagerDuty's API reference.
PAGERDUTY_EVENT_SCHEMA = {
    "type": "object",
    "required": ["event_action", "dedup_key"],
    "additionalProperties": False,
    "properties": {
        "routing_key": {"type": "string", "minLength": 32, "maxLength": 32},
        "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "additionalProperties": False,
            "properties": {
                "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string", "format": "date-time"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {"type": "object"},
            },
        },
        "images": {"type": "array"},
        "links": {"type": "array"},
        "client": {"type": "string"},
        "client_url": {"type": "string"},
    },
    "if": {"properties": {"event_action": {"const": "trigger"}}},
    "then": {"required": ["payload"]},
}
SERVICENOW_FIELDS = {
    "short_description",
    "description",
    "impact",
    "urgency",
    "priority",
    "state",
    "assignment_group",
    "cmdb_ci",
    "business_service",
    "correlation_id",
    "correlation_display",
    "work_notes",
}


def _json(fmt: str, record: IncidentRecord) -> dict[str, object]:
    value, headers = render_output(fmt, record)
    assert dict(headers)["content-type"] == b"application/json"
    data = orjson.loads(value)
    assert isinstance(data, dict)
    return data


def test_servicenow_row_for_each_version(lifecycle: list[IncidentRecord]) -> None:
    states = []
    for record in lifecycle:
        row = _json("servicenow", record)
        assert set(row) >= SERVICENOW_FIELDS
        assert all(isinstance(v, str) for v in row.values()), "Table API values are strings"
        assert row["correlation_id"] == record.id
        assert len(row["correlation_display"]) <= 100  # type: ignore[arg-type]
        assert row["impact"] == str(record.impact) and row["urgency"] == str(record.urgency)
        assert row["priority"] == str(record.priority)
        assert row["assignment_group"] == (record.assignment_group or "")
        states.append(row["state"])
    assert states[0] == "1"
    assert states[-1] == "6"
    assert set(states[1:-1]) <= {"2"}
    last = _json("servicenow", lifecycle[-1])
    assert last["close_code"] and last["close_notes"]
    first = _json("servicenow", lifecycle[0])
    root = lifecycle[0].root_cause
    assert root is not None and first["cmdb_ci"] == root.name
    assert first["business_service"] in lifecycle[0].affected.business_services
    assert lifecycle[0].summary in str(first["description"])


def test_servicenow_merged_is_closed_as_duplicate(opened: IncidentRecord) -> None:
    row = _json("servicenow", with_changes(opened, status="merged", merged_into="inc-x"))
    assert row["state"] == "7" and row["close_code"] == "Duplicate"
    assert "inc-x" in str(row["close_notes"])


def test_servicenow_short_description_limit(opened: IncidentRecord) -> None:
    long_title = "CRM database down " + "and more " * 40
    row = _json("servicenow", with_changes(opened, title=long_title))
    short = row["short_description"]
    assert isinstance(short, str)
    assert len(short) == SHORT_DESCRIPTION_MAX and short.endswith("…")
    assert short.startswith("CRM database down and more")
    exact = "x" * SHORT_DESCRIPTION_MAX
    assert _json("servicenow", with_changes(opened, title=exact))["short_description"] == exact


def test_servicenow_description_has_a_bound(opened: IncidentRecord) -> None:
    many = [
        {**opened.alerts[0].model_dump(), "fingerprint": f"f{i}", "summary": "s" * 300}
        for i in range(200)
    ]
    row = _json("servicenow", with_changes(opened, alerts=many))
    assert len(str(row["description"])) <= 4000
    assert "more" in str(row["description"])


def test_pagerduty_events_follow_the_v2_schema(lifecycle: list[IncidentRecord]) -> None:
    validator = Draft202012Validator(PAGERDUTY_EVENT_SCHEMA)
    actions = []
    for record in lifecycle:
        event = _json("pagerduty", record)
        errors = [e.message for e in validator.iter_errors(event)]
        assert not errors, errors
        assert event["dedup_key"] == record.id, "stable across versions"
        actions.append(event["event_action"])
    assert actions[0] == "trigger" and actions[-1] == "resolve"
    assert set(actions[:-1]) == {"trigger"}


@pytest.mark.parametrize(
    ("priority", "severity"),
    [(1, "critical"), (2, "error"), (3, "warning"), (4, "info"), (5, "info")],
)
def test_pagerduty_severity_follows_priority(
    opened: IncidentRecord, priority: int, severity: str
) -> None:
    event = _json("pagerduty", with_changes(opened, priority=priority))
    assert event["payload"]["severity"] == severity  # type: ignore[index]


def test_pagerduty_with_routing_key_and_merge(opened: IncidentRecord) -> None:
    key = "R0123456789ABCDEF0123456789ABCDE"
    validator = Draft202012Validator(PAGERDUTY_EVENT_SCHEMA)
    assert not list(validator.iter_errors(pagerduty_event(opened, key)))
    merged = pagerduty_event(with_changes(opened, status="merged", merged_into="x"), key)
    assert merged == {"routing_key": key, "dedup_key": opened.id, "event_action": "resolve"}


def test_registry(opened: IncidentRecord) -> None:
    assert OUTPUT_FORMATS == (
        "native",
        "cloudevents",
        "cloudevents-binary",
        "servicenow",
        "pagerduty",
    )
    value, headers = render_output("native", opened)
    assert value == opened.to_json()
    assert headers == [("correlator.version", str(opened.version).encode())]
    for fmt in OUTPUT_FORMATS:
        _, headers = render_output(fmt, opened)
        assert headers[0] == ("correlator.version", str(opened.version).encode())
    with pytest.raises(CorrelatorError, match=r"unknown output format 'xml'.*servicenow"):
        render_output("xml", opened)


def test_servicenow_states_the_stake_of_an_incident_at_risk(opened: IncidentRecord) -> None:
    cost = {"per_hour": 0.0, "accrued": 0.0, "currency": "USD", "at_risk_per_hour": 1200.0}
    row = _json("servicenow", with_changes(opened, at_risk=True, cost=cost))
    description = str(row["description"])
    assert "At risk: nobody has lost time yet; 1,200 USD/hour" in description
    assert "Lost productivity" not in description
    outage = _json("servicenow", opened)
    assert "At risk" not in str(outage["description"])
