"""The incident record as a PagerDuty Events API v2 event.

`dedup_key` is the incident id, stable across every version, so PagerDuty keeps one alert per
incident: each open version re-triggers it (updating the summary and details), and resolution
or a merge resolves it. The `routing_key` is a secret and is not written to Kafka: the
forwarder that posts to `https://events.pagerduty.com/v2/enqueue` adds it (or pass it to
`pagerduty_event` when posting directly).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from correlator.core.model import IncidentRecord, rfc3339

#: PagerDuty limits (Events API v2).
SUMMARY_MAX: Final = 1024
DEDUP_KEY_MAX: Final = 255
#: Incident priority (1 highest) -> PagerDuty severity.
SEVERITY_BY_PRIORITY: Final = {1: "critical", 2: "error", 3: "warning", 4: "info", 5: "info"}

Headers = list[tuple[str, bytes]]


def pagerduty_event(record: IncidentRecord, routing_key: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"dedup_key": record.id[:DEDUP_KEY_MAX]}
    if routing_key is not None:
        event["routing_key"] = routing_key
    if record.status in ("resolved", "merged"):
        event["event_action"] = "resolve"
        return event
    event["event_action"] = "trigger"
    root = record.root_cause
    summary = " ".join(record.title.split())
    payload: dict[str, Any] = {
        "summary": summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 1] + "…",
        "source": root.name if root is not None else "incident-correlator",
        "severity": SEVERITY_BY_PRIORITY[record.priority],
        "timestamp": rfc3339(record.opened_at),
        "custom_details": {
            "priority": f"P{record.priority}",
            "impact": record.impact,
            "urgency": record.urgency,
            "summary": record.summary,
            "root_cause": root.node if root is not None else None,
            "confidence": root.confidence if root is not None else None,
            "business_services": record.affected.business_services,
            "user_groups": record.affected.user_groups,
            "users_affected": record.affected.users,
            "alerts": len(record.alerts),
            "version": record.version,
        },
    }
    if root is not None:
        payload["component"] = root.name
        payload["class"] = root.kind
    if record.assignment_group:
        payload["group"] = record.assignment_group
    event["payload"] = payload
    return event


def render_pagerduty(record: IncidentRecord) -> tuple[bytes, Headers]:
    return orjson.dumps(pagerduty_event(record)), [("content-type", b"application/json")]
