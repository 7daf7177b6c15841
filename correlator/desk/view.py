"""What every worker knows about every incident: the latest version of each, a bounded
history per incident, and the subscriptions asked for, built from the incidents and
subscriptions topics (docs/desk.md: any worker answers for any incident).

Records are read leniently (`DeskRecord` ignores fields it does not know) and kept as the
published JSON too: the API answers with what was published, including fields added after
this module was written (`subscribers`, `recurrence`...), and a record of a newer schema
never stops the desk from answering.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: Versions kept per incident for `/history`. The compacted topic keeps only the latest one
#: per incident anyway; a restarted worker's history starts there.
DEFAULT_HISTORY = 20
#: Resolved and merged incidents kept for `?status=resolved|all`; the oldest go first, so a
#: worker's memory stays bounded however long it runs.
DEFAULT_CLOSED_KEPT = 1000
#: Subscribers kept per incident: a whole office subscribing is a mailing list's job.
MAX_SUBSCRIBERS = 500


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DeskAlert(_Lenient):
    node: str | None = None
    name: str = ""
    severity: str = "warning"
    status: str = "firing"


class DeskRoot(_Lenient):
    node: str | None = None
    name: str = ""
    kind: str = ""
    silent: bool = False


class DeskAffected(_Lenient):
    services: tuple[str, ...] = ()
    business_services: tuple[str, ...] = ()
    user_groups: tuple[str, ...] = ()
    users: int = 0
    sites: tuple[str, ...] = ()


class DeskAssignment(_Lenient):
    id: str
    name: str | None = None
    contact: str | None = None


class DeskCost(_Lenient):
    per_hour: float = 0.0
    accrued: float = 0.0
    currency: str = "USD"


class DeskRecurrence(_Lenient):
    """How often the root cause failed before (issue 10: repeat incidents)."""

    count: int = 0
    """Earlier incidents with the same root cause within the look-back."""


class DeskRecord(_Lenient):
    """The fields of an incident record (docs/formats.md, the record) the desk reads."""

    id: str = Field(min_length=1)
    version: int = Field(ge=1)
    status: str
    title: str = ""
    summary: str = ""
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    root_cause: DeskRoot | None = None
    alerts: tuple[DeskAlert, ...] = ()
    affected: DeskAffected = DeskAffected()
    impact: int = 3
    priority: int = 5
    assignment_group: str | None = None
    assignment: DeskAssignment | None = None
    next_update_at: datetime | None = None
    cost: DeskCost = DeskCost()
    subscribers: tuple[str, ...] = ()
    reopened: int = 0
    recurrence: DeskRecurrence | None = None
    engine_at_risk: bool | None = Field(default=None, alias="at_risk")
    """the engine's own verdict, in records that carry it (absent from older ones)"""

    @property
    def repeat(self) -> bool:
        """The root cause failed before within the look-back: not fixed the first time."""
        return self.recurrence is not None and self.recurrence.count > 0

    @field_validator("subscribers", mode="before")
    @classmethod
    def _subscriber_ids(cls, value: object) -> object:
        # The engine may list people as ids or as objects; the desk needs the ids.
        if isinstance(value, list | tuple):
            return tuple(
                str(v.get("id") or v.get("user") or "") if isinstance(v, dict) else str(v)
                for v in value
            )
        return value

    @property
    def at_risk(self) -> bool:
        """People can still work: every firing alert on the root cause is a warning (the same
        test the title's "at risk" wording uses). A silent root (no alert of its own) is
        presumed down, as the engine does. A record that carries the engine's verdict is
        taken at its word, so the desk's counts agree with the record's text and price."""
        if self.engine_at_risk is not None:
            return self.engine_at_risk
        root = self.root_cause
        if root is None or root.node is None or root.silent:
            return False
        severities = [
            a.severity for a in self.alerts if a.node == root.node and a.status == "firing"
        ]
        return bool(severities) and all(s in ("warning", "info") for s in severities)

    def overdue(self, now: datetime) -> bool:
        due = self.next_update_at
        return self.status == "open" and due is not None and due < now


class RecordDecodeError(ValueError):
    """An incidents-topic record the desk cannot read (it is skipped and counted)."""


def decode_record(value: bytes) -> DeskRecord:
    """One incidents-topic value, parsed and validated by pydantic-core in one call: the view
    applies every record the workers publish, so this is on the desk's hot path."""
    try:
        return DeskRecord.model_validate_json(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "json_invalid":
            raise RecordDecodeError(f"not JSON: {error['msg']}") from exc
        if error["type"] == "model_type":
            raise RecordDecodeError("not a JSON object") from exc
        raise RecordDecodeError(f"not an incident record: {error['msg']}") from exc


def _object(value: bytes) -> dict[str, object]:
    parsed = orjson.loads(value)
    return parsed if isinstance(parsed, dict) else {}


@dataclass(slots=True)
class _Incident:
    # The published bytes, not parsed dicts: a record's JSON is about a tenth of the memory of
    # the same record as Python objects, and requests that need the dict are rare.
    latest: DeskRecord
    raw: bytes
    history: deque[bytes]


@dataclass(frozen=True, slots=True)
class Filters:
    """`GET /api/v1/incidents` filters: each an id the record must list (None: any)."""

    status: str = "open"
    service: str | None = None
    business_service: str | None = None
    user_group: str | None = None
    site: str | None = None
    priority: int | None = None
    assignment_group: str | None = None

    def keep(self, record: DeskRecord) -> bool:
        # `resolved` also lists merged incidents: both are closed for the desk.
        closed = self.status == "resolved" and record.status == "merged"
        if self.status not in ("all", record.status) and not closed:
            return False
        a = record.affected
        return (
            (self.service is None or self.service in a.services)
            and (self.business_service is None or self.business_service in a.business_services)
            and (self.user_group is None or self.user_group in a.user_groups)
            and (self.site is None or self.site in a.sites)
            and (self.priority is None or self.priority == record.priority)
            and (self.assignment_group is None or self.assignment_group == record.assignment_group)
        )


@dataclass(slots=True)
class ViewStats:
    records: int = 0
    skipped: int = 0
    subscriptions: int = 0


@dataclass(slots=True)
class DeskView:
    """Thread-safe: one reader thread applies records, HTTP requests read snapshots."""

    history: int = DEFAULT_HISTORY
    closed_kept: int = DEFAULT_CLOSED_KEPT
    ready: bool = False
    """Set by the reader once it caught up with the topics' end offsets read at its start."""
    stats: ViewStats = field(default_factory=ViewStats)
    _incidents: dict[str, _Incident] = field(default_factory=dict)
    _requested: dict[str, dict[str, datetime]] = field(default_factory=dict)
    _closed: deque[str] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- writing (the reader thread) ---------------------------------------------------------

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One incidents-topic record; None is a tombstone (the incident is forgotten)."""
        if value is None:
            if key is not None:
                self.forget(key.decode("utf-8", "replace"))
            return
        try:
            record = decode_record(value)
        except RecordDecodeError:
            self.stats.skipped += 1
            return
        self.put(record, bytes(value))

    def put(self, record: DeskRecord, raw: bytes) -> None:
        with self._lock:
            self.stats.records += 1
            known = self._incidents.get(record.id)
            if known is not None and record.version <= known.latest.version:
                return  # a re-read or a producer retry: the view has it already
            if known is None:
                known = _Incident(record, raw, deque(maxlen=self.history))
                self._incidents[record.id] = known
            was_closed = known.latest.status != "open" and known.history
            known.latest, known.raw = record, raw
            known.history.append(raw)
            if record.status != "open" and not was_closed:
                self._closed.append(record.id)
                self._evict_closed()

    def _evict_closed(self) -> None:
        while len(self._closed) > self.closed_kept:
            oldest = self._closed.popleft()
            known = self._incidents.get(oldest)
            if known is not None and known.latest.status != "open":
                del self._incidents[oldest]
                self._requested.pop(oldest, None)

    def forget(self, incident_id: str) -> None:
        with self._lock:
            self._incidents.pop(incident_id, None)
            self._requested.pop(incident_id, None)

    def add_subscription(self, incident_id: str, user_id: str, at: datetime) -> None:
        """A subscription read from the subscriptions topic: shown at once, before the
        engine's next version lists it in `subscribers`."""
        with self._lock:
            people = self._requested.setdefault(incident_id, {})
            if user_id not in people and len(people) < MAX_SUBSCRIBERS:
                people[user_id] = at
                self.stats.subscriptions += 1

    # ---- reading (HTTP requests, the metrics collector) --------------------------------------

    def get(self, incident_id: str) -> DeskRecord | None:
        with self._lock:
            known = self._incidents.get(incident_id)
            return known.latest if known is not None else None

    def raw(self, incident_id: str) -> dict[str, object] | None:
        with self._lock:
            known = self._incidents.get(incident_id)
            raw = known.raw if known is not None else None
        return _object(raw) if raw is not None else None

    def history_of(self, incident_id: str) -> list[dict[str, object]] | None:
        with self._lock:
            known = self._incidents.get(incident_id)
            versions = list(known.history) if known is not None else None
        return [_object(v) for v in versions] if versions is not None else None

    def records(self, filters: Filters = Filters()) -> list[DeskRecord]:
        """Matching incidents, most urgent first (priority, then the oldest)."""
        with self._lock:
            found = [i.latest for i in self._incidents.values() if filters.keep(i.latest)]
        return sorted(found, key=lambda r: (r.priority, r.opened_at, r.id))

    def subscribers(self, incident_id: str) -> list[str]:
        """Everyone subscribed: those the latest version lists, then those asked for since."""
        with self._lock:
            known = self._incidents.get(incident_id)
            listed = list(known.latest.subscribers) if known is not None else []
            requested = self._requested.get(incident_id, {})
        return list(dict.fromkeys([*listed, *requested]))

    def __len__(self) -> int:
        with self._lock:
            return len(self._incidents)


def now_utc() -> datetime:
    return datetime.now(UTC)
