"""PagerDuty Events API v2 events (`format="pagerduty-v2"`, `source="pagerduty"`).

``{"routing_key": ..., "event_action": "trigger", "dedup_key": ..., "payload": {"summary",
"source", "severity", "timestamp", "component", "group", "class", "custom_details"},
"client": ..., "client_url": ...}``

* `event_action` (any case): `trigger` -> a firing Alert; `resolve` -> a resolved Alert;
  `acknowledge` -> no Alert at all: an ack says a person is on it, not that anything changed
  in the systems, so it neither opens, joins nor resolves an incident.
* fingerprint = `dedup_key`. A trigger without one (PagerDuty would invent a random key) gets
  a stable hash of summary, source and component, so its re-sends deduplicate. A resolve
  without `dedup_key` says nothing about what it resolves and is refused (`invalid_field`),
  as PagerDuty refuses it.
* A trigger needs `payload` with a `summary` (PagerDuty requires both). `payload.severity`
  (critical | error | warning | info) maps onto ours unchanged; other words are normalised.
* Time: `payload.timestamp` when given, else `received_at` (the format does not require one).
  A resolve normally has no payload: its `ends_at` (and `starts_at`) is `received_at`. If a
  sender does include a payload on a resolve, it is read the same way as on a trigger.
* labels: `host` = payload.source, `component`, `group`, `class`, then the scalar values of
  `custom_details` under their own names (never overwriting those four); nested details are
  skipped. name = `class`, else `component`, else "pagerduty-event".
* `client_url` becomes the generator URL. `routing_key` is deliberately dropped: it is the
  integration's credential and must not travel on into incidents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from correlator.core.model import Alert, normalise_severity
from correlator.wire.decode._common import (
    describe,
    invalid,
    optional_text,
    parse_time,
    scalar_text,
    show,
    stable_hash,
)

FORMAT: Final = "pagerduty-v2"
SOURCE: Final = "pagerduty"
_ACTIONS: Final = ("trigger", "resolve", "acknowledge")


def decode(obj: dict[str, Any], received_at: datetime) -> list[Alert]:
    raw_action = obj.get("event_action")
    action = raw_action.lower() if isinstance(raw_action, str) else None
    if action not in _ACTIONS:
        raise invalid(
            "event_action",
            f"expected 'trigger', 'acknowledge' or 'resolve', got {show(raw_action)}",
        )
    if action == "acknowledge":
        return []

    dedup_key = optional_text(obj.get("dedup_key"), "dedup_key")
    payload = obj.get("payload")
    if payload is None and action == "resolve":
        payload = {}
    if not isinstance(payload, dict):
        problem = "missing" if payload is None else f"got {describe(payload)}"
        raise invalid("payload", f"a trigger needs a payload object ({problem})")
    if action == "resolve" and dedup_key is None:
        raise invalid("dedup_key", "a resolve needs the dedup_key of the event it resolves")

    summary = optional_text(payload.get("summary"), "payload.summary", descriptive=True)
    if summary is None and action == "trigger":
        raise invalid("payload.summary", "a trigger needs a summary")
    source = optional_text(payload.get("source"), "payload.source")
    component = optional_text(payload.get("component"), "payload.component")
    group = optional_text(payload.get("group"), "payload.group")
    event_class = optional_text(payload.get("class"), "payload.class")
    when = parse_time(payload.get("timestamp"), "payload.timestamp") or received_at

    labels: dict[str, str] = {}
    if source is not None:
        labels["host"] = source
    if component is not None:
        labels["component"] = component
    if group is not None:
        labels["group"] = group
    if event_class is not None:
        labels["class"] = event_class
    details = payload.get("custom_details")
    if isinstance(details, dict):
        for key, value in details.items():
            if key not in labels:
                text = scalar_text(value)
                if text is not None:
                    labels[key] = text

    name = event_class or component or "pagerduty-event"
    fingerprint = dedup_key or stable_hash("pagerduty", summary, source, component)
    client_url = obj.get("client_url")
    annotations: dict[str, str] = {}
    client = obj.get("client")
    if isinstance(client, str) and client:
        annotations["client"] = client
    if summary is not None:
        annotations["summary"] = summary

    firing = action == "trigger"
    return [
        Alert(
            fingerprint=fingerprint,
            name=name,
            status="firing" if firing else "resolved",
            severity=normalise_severity(payload.get("severity")),
            summary=summary or name,
            source=SOURCE,
            format=FORMAT,
            labels=labels,
            annotations=annotations,
            starts_at=when,
            ends_at=None if firing else when,
            generator_url=client_url if isinstance(client_url, str) and client_url else None,
            node=None,
        )
    ]
