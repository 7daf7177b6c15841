"""The native event (`format="native"`), for senders without a format of their own.

``{"source": "nagios", "fingerprint": "disk-db1", "status": "firing", "severity": "critical",
"node": "crm-db", "name": "DiskFull", "summary": "/var at 99%", "labels": {},
"timestamp": "2026-11-22T05:00:00Z"}``

* `status` (required): "firing" or "resolved", any case; anything else is `invalid_field`.
* `name` (required): a non-empty string.
* `timestamp`: when this event happened; `received_at` if absent. Firing: `starts_at` is the
  optional `starts_at` field, else `timestamp` (so a sender that re-sends a long-running
  problem can keep its start). Resolved: `ends_at` = `timestamp`, `starts_at` = `starts_at`
  or `timestamp`; a start after the end is refused.
* `fingerprint`: as given, else a stable hash of source, node and name.
* `node`: the topology node the sender names; mapping tries it first.
* `source` defaults to "unknown", `severity` is normalised, `summary` defaults to the name,
  `labels` and `annotations` follow the Alertmanager rules (strings; numbers as text),
  `generator_url` is optional.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from correlator.core.model import Alert, AlertStatus, normalise_severity
from correlator.wire.decode._common import (
    describe,
    invalid,
    optional_text,
    parse_time,
    show,
    stable_hash,
    string_map,
)

FORMAT: Final = "native"


def _status(raw: object) -> AlertStatus:
    if isinstance(raw, str):
        low = raw.lower()
        if low == "firing":
            return "firing"
        if low == "resolved":
            return "resolved"
        raise invalid("status", f"expected 'firing' or 'resolved', got {show(raw)}")
    problem = "missing" if raw is None else f"got {describe(raw)}"
    raise invalid("status", f"expected 'firing' or 'resolved' ({problem})")


def decode(obj: dict[str, Any], received_at: datetime) -> list[Alert]:
    status = _status(obj.get("status"))
    name = optional_text(obj.get("name"), "name")
    if name is None:
        raise invalid("name", "a native event needs a name")
    source = optional_text(obj.get("source"), "source") or "unknown"
    node = optional_text(obj.get("node"), "node")
    summary = optional_text(obj.get("summary"), "summary", descriptive=True) or name
    labels = string_map(obj.get("labels"), "labels", "label")
    annotations = string_map(obj.get("annotations"), "annotations", "annotation")
    when = parse_time(obj.get("timestamp"), "timestamp") or received_at
    started = parse_time(obj.get("starts_at"), "starts_at")

    ends: datetime | None = None
    if status == "firing":
        starts = started or when
    else:
        ends = when
        starts = started or when
        if starts > ends:
            raise invalid(
                "starts_at",
                f"the event starts ({starts.isoformat()}) after it ends ({ends.isoformat()})",
            )

    fingerprint = optional_text(obj.get("fingerprint"), "fingerprint")
    if fingerprint is None:
        fingerprint = stable_hash("native", source, node, name)

    return [
        Alert(
            fingerprint=fingerprint,
            name=name,
            status=status,
            severity=normalise_severity(obj.get("severity")),
            summary=summary,
            source=source,
            format=FORMAT,
            labels=labels,
            annotations=annotations,
            starts_at=starts,
            ends_at=ends,
            generator_url=optional_text(obj.get("generator_url"), "generator_url"),
            node=node,
        )
    ]
