"""The engine's mutable state: alerts it knows, incidents it keeps, and the indexes over them.

Plain slotted dataclasses rather than pydantic models: they sit on the hot path and are mutated
in place. `to_dict` / `from_dict` give the JSON-able form used by `snapshot()` and the changelog.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from correlator.core.model import Affected, AlertPhase, Candidate, IncidentPhase, RootCause

#: The shape of stored values (`AlertState.to_dict`, `Incident.to_dict`); 1 had no `v`.
FORMAT_VERSION = 2


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
    seq: int = 0
    """position among its incident's members (restore rebuilds the members in this order)"""
    indexed: bool = field(default=False, compare=False, repr=False)
    """Counted in the grouping index (derived, never persisted; see `core.membership`)."""
    order_key: Any = field(default=None, compare=False, repr=False)
    """its place in its incident's `order` (derived, never persisted; `membership.account`)"""
    rendered: Any = field(default=None, compare=False, repr=False)
    """(key, AlertRecord) of the last rendering; derived, never persisted."""

    @property
    def active(self) -> bool:
        """Counts as firing for correlation: firing, or flapping (a flapping alert's resolves are
        not trusted until it settles)."""
        return self.status == AlertPhase.FIRING or self.flapping

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": FORMAT_VERSION,
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
            "seq": self.seq,
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
            seq=data.get("seq", 0),
        )


@dataclass(slots=True)
class Assessment:
    """What the incident stages concluded: the part of an incident a service desk reads."""

    root: RootCause | None = None
    candidates: list[Candidate] = field(default_factory=list)
    root_nodes: tuple[str, ...] = ()
    affected: Affected = field(default_factory=Affected)
    cost_per_hour: float = 0.0
    """what is being lost per hour: 0 while people are only at risk"""
    at_risk: bool = False
    """only warnings on the root cause: people can still work (`assess._at_risk`)"""
    at_risk_per_hour: float = 0.0
    """what would be lost per hour if an at-risk incident became an outage"""
    currency: str = "USD"
    impact: int = 3
    urgency: int = 3
    priority: int = 5
    assignment_group: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Only what cannot wait for the next assessment: the root nodes (reopening looks them
        up), the levels the next assessment compares against, and what `stats` reports. The
        rest (root cause text, candidates, affected lists) is recomputed before any publish."""
        return {
            "root_nodes": list(self.root_nodes),
            "users": self.affected.users,
            "cost_per_hour": self.cost_per_hour,
            "at_risk": self.at_risk,
            "at_risk_per_hour": self.at_risk_per_hour,
            "currency": self.currency,
            "impact": self.impact,
            "urgency": self.urgency,
            "priority": self.priority,
            "assignment_group": self.assignment_group,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Assessment:
        return cls(
            root_nodes=tuple(data["root_nodes"]),
            affected=Affected(users=data["users"]),
            cost_per_hour=data["cost_per_hour"],
            # Absent in states stored before at-risk pricing: the next assessment sets them.
            at_risk=data.get("at_risk", False),
            at_risk_per_hour=data.get("at_risk_per_hour", 0.0),
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
    published: tuple[Any, ...] | None = None
    """Compact fingerprint of the desk fields last published (`publish.desk_state`)."""
    pending: set[str] = field(default_factory=set)
    """Alert changes waiting for the next coalesced version."""
    next_update_at: datetime | None = None
    """When users must next hear of it, as last published (open incidents only)."""
    subscribers: set[str] = field(default_factory=set)
    """people who asked to hear of this incident (`Correlator.subscribe`)"""
    next_seq: int = 0
    detached: set[str] = field(default_factory=set)
    """members kept from an earlier occurrence while the alert's current occurrence lives
    elsewhere: stored in this header, since `alert/<fp>` holds the current one"""
    firing: Counter[str] = field(default_factory=Counter, compare=False, repr=False)
    """severity -> members counting as active (derived, kept by `membership.account`)"""
    tallies: Counter[tuple[str | None, bool]] = field(
        default_factory=Counter, compare=False, repr=False
    )
    """(node, down) -> members (derived, kept by `membership.account`)"""
    by_node: dict[str | None, dict[str, AlertState]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """node -> its members by fingerprint (derived, kept by `membership.account`)"""
    order: list[Any] = field(default_factory=list, compare=False, repr=False)
    """members' `desk_key`s, sorted (derived, kept by `membership.account`)"""
    recurrence: tuple[int, datetime | None] = (0, None)
    """(count, last resolved) of earlier incidents on the same root, set at each publish"""
    assessed: bool = False
    """False when member alerts changed since the stages last ran."""

    @property
    def has_active(self) -> bool:
        return any(n > 0 for n in self.firing.values())

    @property
    def active_count(self) -> int:
        return sum(self.firing.values())

    def to_dict(self) -> dict[str, Any]:
        """The header: member alerts are stored under their own `alert/<fp>` keys (except
        `detached` ones), so a change of one alert never rewrites the whole incident."""
        return {
            "v": FORMAT_VERSION,
            "id": self.id,
            "opened_at": _ts(self.opened_at),
            "updated_at": _ts(self.updated_at),
            "status": self.status.value,
            "version": self.version,
            "resolved_at": _ts(self.resolved_at),
            "merged_into": self.merged_into,
            "reopened": self.reopened,
            "anchor": _ts(self.anchor),
            "quiet_since": _ts(self.quiet_since),
            "unmapped_key": self.unmapped_key,
            "assessment": self.assessment.to_dict(),
            "cost_accrued": self.cost_accrued,
            "cost_since": _ts(self.cost_since),
            "published": list(self.published) if self.published is not None else None,
            "pending": sorted(self.pending),
            "next_update_at": _ts(self.next_update_at),
            "subscribers": sorted(self.subscribers),
            "next_seq": self.next_seq,
            "detached": [self.alerts[fp].to_dict() for fp in sorted(self.detached)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        """The header alone; `persist.restore` adds the members."""
        detached = [AlertState.from_dict(a) for a in data["detached"]]
        published = data["published"]
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
            alerts={a.fingerprint: a for a in detached},
            quiet_since=_dt(data["quiet_since"]),
            unmapped_key=data["unmapped_key"],
            assessment=Assessment.from_dict(data["assessment"]),
            cost_accrued=data["cost_accrued"],
            cost_since=_dt(data["cost_since"]),
            published=tuple(published) if published is not None else None,
            pending=set(data["pending"]),
            next_update_at=_dt(data["next_update_at"]),
            subscribers=set(data["subscribers"]),
            next_seq=data["next_seq"],
            detached={a.fingerprint for a in detached},
            assessed=False,
        )
