"""The pure Correlator (placeholder while the engine is written; API is fixed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from correlator.models import Alert, IncidentRecord
from correlator.settings import EngineSettings


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    """One published change of one incident; `record` is what goes on the incidents topic."""

    record: IncidentRecord

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def version(self) -> int:
        return self.record.version


@dataclass(slots=True)
class EngineStats:
    active_alerts: int = 0
    suppressed_alerts: int = 0
    open_incidents_by_priority: dict[int, int] = field(default_factory=dict)
    open_incidents_by_group: dict[str, int] = field(default_factory=dict)
    people_affected: int = 0


class Correlator:
    def __init__(self, topology: Any, settings: EngineSettings | None = None) -> None:
        raise NotImplementedError

    def ingest(self, alert: Alert, now: datetime) -> list[IncidentUpdate]:
        raise NotImplementedError

    def tick(self, now: datetime) -> list[IncidentUpdate]:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

    def restore(self, state: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def take_state_changes(self) -> dict[str, Any | None]:
        raise NotImplementedError

    def replace_topology(self, topology: Any) -> None:
        raise NotImplementedError

    def stats(self) -> EngineStats:
        raise NotImplementedError
