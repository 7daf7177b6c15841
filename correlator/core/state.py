"""The engine's mutable state: alerts it knows, incidents it keeps, and the indexes over them.

Plain slotted dataclasses rather than pydantic models: they sit on the hot path and are mutated
in place. `to_dict` / `from_dict` give the JSON-able form used by `snapshot()` and the changelog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from correlator.core.model import Affected, AlertPhase, Candidate, IncidentPhase, RootCause


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _req_dt(value: Any) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(slots=True)
class AlertState:
    """What the engine remembers of one alert (one fingerprint), across its occurrences."""

    fingerprint: str
    name: str
    node: str | None
    severity: str
    status: AlertPhase
    starts_at: datetime
    ends_at: datetime | None
    summary: str
    source: str
    labels: dict[str, str]
    last_seen: datetime
    incident_id: str | None = None
    unmapped_key: str | None = None
    suppressed_by: str | None = None
    flapping: bool = False
    flips: list[datetime] = field(default_factory=list)
    occurrences: int = 1
    indexed: bool = field(default=False, compare=False, repr=False)
    """Counted in the grouping index (derived, never persisted; see `core.membership`)."""
    rendered: Any = field(default=None, compare=False, repr=False)
    """(key, AlertRecord) of the last rendering; derived, never persisted."""

    @property
    def active(self) -> bool:
        """Counts as firing for correlation: firing, or flapping (a flapping alert's resolves are
        not trusted until it settles)."""
        return self.status == AlertPhase.FIRING or self.flapping

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "name": self.name,
            "node": self.node,
            "severity": self.severity,
            "status": self.status.value,
            "starts_at": _ts(self.starts_at),
            "ends_at": _ts(self.ends_at),
            "summary": self.summary,
            "source": self.source,
            "labels": self.labels,
            "last_seen": _ts(self.last_seen),
            "incident_id": self.incident_id,
            "unmapped_key": self.unmapped_key,
            "suppressed_by": self.suppressed_by,
            "flapping": self.flapping,
            "flips": [_ts(f) for f in self.flips],
            "occurrences": self.occurrences,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertState:
        return cls(
            fingerprint=data["fingerprint"],
            name=data["name"],
            node=data["node"],
            severity=data["severity"],
            status=AlertPhase(data["status"]),
            starts_at=_req_dt(data["starts_at"]),
            ends_at=_dt(data["ends_at"]),
            summary=data["summary"],
            source=data["source"],
            labels=dict(data["labels"]),
            last_seen=_req_dt(data["last_seen"]),
            incident_id=data["incident_id"],
            unmapped_key=data["unmapped_key"],
            suppressed_by=data["suppressed_by"],
            flapping=data["flapping"],
            flips=[_req_dt(f) for f in data["flips"]],
            occurrences=data["occurrences"],
        )


@dataclass(slots=True)
class Assessment:
    """What the incident stages concluded: the part of an incident a service desk reads."""

    root: RootCause | None = None
    candidates: list[Candidate] = field(default_factory=list)
    root_nodes: tuple[str, ...] = ()
    affected: Affected = field(default_factory=Affected)
    cost_per_hour: float = 0.0
    currency: str = "USD"
    impact: int = 3
    urgency: int = 3
    priority: int = 5
    assignment_group: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root.model_dump(mode="json") if self.root else None,
            "candidates": [c.model_dump(mode="json") for c in self.candidates],
            "root_nodes": list(self.root_nodes),
            "affected": self.affected.model_dump(mode="json"),
            "cost_per_hour": self.cost_per_hour,
            "currency": self.currency,
            "impact": self.impact,
            "urgency": self.urgency,
            "priority": self.priority,
            "assignment_group": self.assignment_group,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Assessment:
        return cls(
            root=RootCause.model_validate(data["root"]) if data["root"] else None,
            candidates=[Candidate.model_validate(c) for c in data["candidates"]],
            root_nodes=tuple(data["root_nodes"]),
            affected=Affected.model_validate(data["affected"]),
            cost_per_hour=data["cost_per_hour"],
            currency=data["currency"],
            impact=data["impact"],
            urgency=data["urgency"],
            priority=data["priority"],
            assignment_group=data["assignment_group"],
        )


@dataclass(slots=True)
class Incident:
    id: str
    opened_at: datetime
    updated_at: datetime
    status: IncidentPhase = IncidentPhase.OPEN
    version: int = 0
    resolved_at: datetime | None = None
    merged_into: str | None = None
    reopened: int = 0
    anchor: datetime | None = None
    """Start of the status-update cadence: opening, reopening, or the last priority change."""
    alerts: dict[str, AlertState] = field(default_factory=dict)
    quiet_since: datetime | None = None
    """When the last active alert resolved; the hold-down runs from here."""
    unmapped_key: str | None = None
    assessment: Assessment = field(default_factory=Assessment)
    cost_accrued: float = 0.0
    cost_since: datetime | None = None
    published_digest: tuple[Any, ...] | None = None
    alert_epoch: int = 0
    """Counts the alert changes a desk hears about; part of the published digest."""
    subscribers: set[str] = field(default_factory=set)
    """people who asked to hear of this incident (`Correlator.subscribe`)"""
    assessed: bool = False
    """False when member alerts changed since the stages last ran."""

    @property
    def has_active(self) -> bool:
        return any(a.active for a in self.alerts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "opened_at": _ts(self.opened_at),
            "updated_at": _ts(self.updated_at),
            "status": self.status.value,
            "version": self.version,
            "resolved_at": _ts(self.resolved_at),
            "merged_into": self.merged_into,
            "reopened": self.reopened,
            "anchor": _ts(self.anchor),
            "alerts": [a.to_dict() for a in self.alerts.values()],
            "quiet_since": _ts(self.quiet_since),
            "unmapped_key": self.unmapped_key,
            "assessment": self.assessment.to_dict(),
            "cost_accrued": self.cost_accrued,
            "cost_since": _ts(self.cost_since),
            "published_digest": _digest_to_json(self.published_digest),
            "alert_epoch": self.alert_epoch,
            "subscribers": sorted(self.subscribers),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        alerts = [AlertState.from_dict(a) for a in data["alerts"]]
        return cls(
            id=data["id"],
            opened_at=_req_dt(data["opened_at"]),
            updated_at=_req_dt(data["updated_at"]),
            status=IncidentPhase(data["status"]),
            version=data["version"],
            resolved_at=_dt(data["resolved_at"]),
            merged_into=data["merged_into"],
            reopened=data["reopened"],
            anchor=_dt(data["anchor"]),
            alerts={a.fingerprint: a for a in alerts},
            quiet_since=_dt(data["quiet_since"]),
            unmapped_key=data["unmapped_key"],
            assessment=Assessment.from_dict(data["assessment"]),
            cost_accrued=data["cost_accrued"],
            cost_since=_dt(data["cost_since"]),
            published_digest=_digest_from_json(data["published_digest"]),
            alert_epoch=data.get("alert_epoch", 0),
            subscribers=set(data.get("subscribers", ())),
            assessed=True,
        )


def _digest_to_json(digest: tuple[Any, ...] | None) -> Any:
    if digest is None:
        return None
    return [list(part) if isinstance(part, tuple) else part for part in digest]


def _digest_from_json(data: Any) -> tuple[Any, ...] | None:
    if data is None:
        return None
    return tuple(_freeze(part) for part in data)


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value
