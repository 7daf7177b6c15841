"""The records that cross the engine's edges: the normalised `Alert` that decoders produce,
and the incident record (docs/formats.md, the record) that the engine publishes.

Both are pydantic v2 models; JSON goes through orjson (`to_json` / `dumps`), because the
worker serialises every published update and orjson is several times faster than `json`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

SCHEMA_ID: Final = "correlator.incident/v1"

AlertStatus = Literal["firing", "resolved"]
IncidentStatus = Literal["open", "resolved", "merged"]


class AlertPhase(StrEnum):
    """An alert's status inside the engine; the values are the record's `AlertStatus`."""

    FIRING = "firing"
    RESOLVED = "resolved"


class IncidentPhase(StrEnum):
    """An incident's status inside the engine; the values are the record's `IncidentStatus`.
    The moves between them are the table in `correlator.core.lifecycle`."""

    OPEN = "open"
    RESOLVED = "resolved"
    MERGED = "merged"


class Change(StrEnum):
    """What changed in an incident, as listed in a record's `changes`."""

    OPENED = "opened"
    ALERT_ADDED = "alert_added"
    ALERT_RESOLVED = "alert_resolved"
    ALERT_REFIRED = "alert_refired"
    ALERT_FLAPPING = "alert_flapping"
    SEVERITY_CHANGED = "severity_changed"
    MERGED_IN = "merged_in"
    MERGED = "merged"
    REOPENED = "reopened"
    RESOLVED = "resolved"
    SUBSCRIBERS = "subscribers"
    """someone subscribed to the incident's updates"""
    UPDATE_DUE = "update_due"
    """next_update_at passed with no version since: chase the resolver group"""
    STATUS = "status"
    ROOT_CAUSE = "root_cause"
    CANDIDATES = "candidates"
    PRIORITY = "priority"
    IMPACT = "impact"
    URGENCY = "urgency"
    ASSIGNMENT = "assignment"
    AFFECTED = "affected"
    UPDATED = "updated"
    """the record changed for no listed reason (a re-ranking, say)"""


#: Changes published at once (docs/updates.md); every other change waits for the coalesced version.
#: `publish.desk_changes` says which differences of the desk fields are immediate.
IMMEDIATE_CHANGES: frozenset[Change] = frozenset(
    {
        Change.OPENED,
        Change.RESOLVED,
        Change.REOPENED,
        Change.MERGED,
        Change.SUBSCRIBERS,
        Change.UPDATE_DUE,
    }
)


class TimerKind(StrEnum):
    """What a timer does when it fires. Timers due at the same instant fire in the order of
    these values (then by key), so keep the values' alphabetical order when adding one."""

    COALESCE = "coalesce"
    FORGET = "forget"
    HOLD_DOWN = "hold_down"
    SETTLE = "settle"
    STALE = "stale"
    UNMUTE = "unmute"
    UPDATE_DUE = "update_due"


#: Normalised severities, most severe first. Decoders map every vendor's vocabulary onto these.
SEVERITIES: tuple[str, ...] = ("critical", "error", "warning", "info")

_SEVERITY_ALIASES: dict[str, str] = {
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "emerg": "critical",
    "alert": "critical",
    "page": "critical",
    "disaster": "critical",
    "p1": "critical",
    "sev1": "critical",
    "error": "error",
    "err": "error",
    "major": "error",
    "high": "error",
    "p2": "error",
    "sev2": "error",
    "warning": "warning",
    "warn": "warning",
    "minor": "warning",
    "medium": "warning",
    "average": "warning",
    "p3": "warning",
    "sev3": "warning",
    "info": "info",
    "informational": "info",
    "information": "info",
    "notice": "info",
    "low": "info",
    "none": "info",
    "ok": "info",
    "p4": "info",
    "p5": "info",
    "sev4": "info",
}


def normalise_severity(raw: object, default: str = "warning") -> str:
    """Map a vendor severity ('crit', 'P1', 'Major', ...) onto one of `SEVERITIES`.

    Unknown words fall back to `default` rather than failing: a monitoring system that invents
    its own level still deserves an incident, and 'warning' neither pages nor hides it.
    """
    if not isinstance(raw, str):
        return default
    return _SEVERITY_ALIASES.get(raw.strip().lower(), default)


def utc(ts: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are taken to be UTC already."""
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def rfc3339(ts: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z` suffix and no more precision than the input carries."""
    if ts is None:
        return None
    ts = utc(ts)
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond:06d}".rstrip("0")
    return text + "Z"


class Alert(BaseModel):
    """One monitoring event, normalised from whichever format it arrived in.

    `fingerprint` identifies the alert across re-sends and its resolve; `starts_at` identifies the
    occurrence (a resolved alert that fires again carries a later `starts_at`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fingerprint: str
    name: str
    status: AlertStatus
    severity: str = "warning"
    summary: str = ""
    source: str = "unknown"
    """Which monitoring system sent it (`alertmanager`, `pagerduty`, `nagios`, ...)."""
    format: str = "native"
    """Which decoder read it: `alertmanager-webhook`, `alertmanager-alert`, `pagerduty-v2`,
    `native`."""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str | None = None
    node: str | None = None
    """An explicit topology node named by the sender (native `node`); mapping tries it first."""

    @property
    def event_time(self) -> datetime:
        """The instant this event speaks of: its start when firing, its end when resolved."""
        if self.status == "resolved" and self.ends_at is not None:
            return self.ends_at
        return self.starts_at


class _Record(BaseModel):
    # pydantic renders aware UTC datetimes as RFC 3339 with a `Z` suffix already.
    model_config = ConfigDict(extra="forbid")


class Candidate(_Record):
    """A possible root cause: a topology node (or, when unmapped, an alert's own name)."""

    node: str | None = Field(description="topology node id; null for an unmapped alert")
    name: str = Field(description="human name of the node (or the alert name when unmapped)")
    kind: str = Field(description="node kind (service, database, link, ...), or 'unmapped'")
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = Field(description="one sentence a desk agent can read out")
    silent: bool = Field(
        default=False,
        description="true when the node itself raised no alert but explains the others",
    )
    alerting: bool = Field(default=True, description="true when the node has a firing alert")
    confidence_label: Literal["likely", "probable", "possible"] = Field(
        default="possible",
        description="what a desk can say: likely (confidence >= 0.8), probable (>= 0.5), "
        "possible (below)",
    )


class RootCause(Candidate):
    candidates: list[Candidate] = Field(
        default_factory=list,
        description="the other candidates, best first (same list as the top-level `candidates`)",
    )


class AlertRecord(_Record):
    fingerprint: str
    name: str
    node: str | None
    severity: str
    status: AlertStatus
    starts_at: datetime
    ends_at: datetime | None
    summary: str
    source: str = "unknown"
    labels: dict[str, str] = Field(default_factory=dict)
    flapping: bool = False
    occurrences: int = Field(default=1, description="how many times it fired in this incident")
    _json: bytes | None = PrivateAttr(default=None)

    def fragment(self) -> orjson.Fragment:
        """Its JSON, serialised once: the engine reuses an alert's record across versions until
        the alert changes, so every later version of its incident splices these bytes in."""
        # Through the private dict itself: pydantic's attribute lookup for `self._json` raises
        # and catches an AttributeError on every read, which cost more than the splice.
        private = self.__pydantic_private__
        cached = private.get("_json") if private is not None else None
        if cached is None:
            cached = orjson.dumps(self.model_dump(mode="json"))
            if private is None:
                object.__setattr__(self, "__pydantic_private__", {"_json": cached})
            else:
                private["_json"] = cached
        return orjson.Fragment(cached)

    def __eq__(self, other: object) -> bool:
        # The field values alone: whether the JSON was cached yet is no part of the record.
        if not isinstance(other, AlertRecord):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]


class Affected(_Record):
    services: list[str] = Field(default_factory=list, description="technical nodes down")
    business_services: list[str] = Field(default_factory=list)
    user_groups: list[str] = Field(default_factory=list)
    users: int = Field(default=0, description="head count of the affected user groups")
    sites: list[str] = Field(default_factory=list)
    services_total: int | None = Field(
        default=None, description="how many services are affected (the list may be capped)"
    )
    business_services_total: int | None = None
    user_groups_total: int | None = None
    sites_total: int | None = None


class Recurrence(_Record):
    count: int = Field(
        default=0, description="earlier incidents with the same root cause within the window"
    )
    window_days: float = Field(default=30.0, description="the look-back, in days")
    last_resolved_at: datetime | None = Field(
        default=None, description="when the latest of them was resolved"
    )


class Cost(_Record):
    per_hour: float = Field(
        description="lost productivity per hour while this lasts; 0 while people are only at "
        "risk (they can still work)"
    )
    accrued: float = Field(description="lost productivity so far, at updated_at")
    currency: str
    at_risk_per_hour: float = Field(
        default=0.0,
        description="what would be lost per hour if an at-risk incident became an outage; "
        "0 for an outage (per_hour says it)",
    )


class Assignment(_Record):
    id: str
    name: str | None = None
    contact: str | None = None


class IncidentRecord(_Record):
    """One published state of an incident (docs/formats.md, the record). Kafka key = `id`."""

    schema_: Literal["correlator.incident/v1"] = Field(default=SCHEMA_ID, alias="schema")
    id: str
    version: int = Field(ge=1)
    status: IncidentStatus
    merged_into: str | None = None
    title: str
    summary: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    root_cause: RootCause | None
    candidates: list[Candidate] = Field(default_factory=list)
    alerts: list[AlertRecord] = Field(
        description="firing alerts first, most severe first, then by start; capped at the "
        "engine's max_alerts_per_incident (alerts_total counts them all)"
    )
    alerts_total: int = Field(default=0, description="alerts in the incident, listed or not")
    alerts_firing: int = Field(default=0, description="alerts counting as firing (or flapping)")
    candidates_total: int = Field(default=0, description="root-cause candidates before capping")
    affected: Affected
    at_risk: bool = Field(
        default=False,
        description="only warnings on the root cause: the affected people can still work, "
        "nothing accrues (cost.per_hour 0, cost.at_risk_per_hour the stake) and impact is at "
        "most 2; false once an error or critical alert joins the root cause",
    )
    impact: int = Field(ge=1, le=3)
    urgency: int = Field(ge=1, le=3)
    priority: int = Field(ge=1, le=5)
    assignment_group: str | None
    assignment: Assignment | None = None
    next_update_at: datetime | None
    cost: Cost
    unmapped: bool
    reopened: int = 0
    subscribers: list[str] = Field(
        default_factory=list, description="people subscribed to this incident's updates, sorted"
    )
    recurrence: Recurrence = Field(default_factory=Recurrence)
    changes: list[str] = Field(
        default_factory=list,
        description="what changed since the previous version, e.g. alert_added",
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> bytes:
        """The record's JSON, its alerts spliced in from their cached fragments."""
        data = self.model_dump(mode="json", by_alias=True, exclude={"alerts"})
        alerts = [a.fragment() for a in self.alerts]
        return orjson.dumps({k: alerts if k == "alerts" else v for k, v in _ordered(data)})


def _ordered(data: dict[str, Any]) -> list[tuple[str, Any]]:
    """`data` in the record's field order, with `alerts` back in its place."""
    items: list[tuple[str, Any]] = []
    for name, info in IncidentRecord.model_fields.items():
        key = info.alias or name
        items.append((key, None if key == "alerts" else data[key]))
    return items


def incident_json_schema() -> dict[str, Any]:
    """The JSON Schema of the incident record, as committed under docs/."""
    return IncidentRecord.model_json_schema(by_alias=True, mode="serialization")
