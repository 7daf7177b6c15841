"""Engine settings: the correlation rules file (`--rules PATH`, `CORRELATOR_RULES`).

Every knob has a default that suits a mid-sized organisation, so the engine runs with no file at
all. Durations accept seconds or short forms like `90s`, `15m`, `4h`, `1d`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: object) -> object:
    """'15m' -> timedelta(minutes=15); numbers are seconds; anything else is left to pydantic."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        hit = _DURATION.match(value)
        if hit:
            return timedelta(seconds=float(hit.group(1)) * _UNIT_SECONDS[hit.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupingSettings(_Settings):
    max_hops: int = Field(
        default=6,
        ge=1,
        description="how far along the dependency graph (down or up) two alerts may be and still "
        "share a cause; 6 covers user group -> business service -> service -> host -> storage",
    )
    window: Duration = Field(
        default=timedelta(minutes=15),
        description="an incident takes new related alerts while it has firing alerts or saw "
        "activity within this window",
    )
    silent_significance: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="a dependency that raised no alert groups the alerts below it only when that "
        "many alerting dependents would be this unlikely by chance (Poisson tail at the current "
        "alert density); keeps a hub such as DNS from gluing unrelated faults together",
    )
    silent_min_coverage: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="... and when at least this share of the machines it would take down is "
        "alerting: a core switch whose other dependents are all quiet is not down",
    )
    noise_floor: float = Field(
        default=0.001,
        ge=0.0,
        le=1.0,
        description="assumed share of nodes alerting by chance, when fewer are alerting",
    )


class LifecycleSettings(_Settings):
    hold_down: Duration = Field(
        default=timedelta(minutes=5),
        description="all alerts resolved for this long before the incident is resolved, so a "
        "service that blips back and fails again does not produce resolve/reopen noise",
    )
    reopen_window: Duration = Field(
        default=timedelta(minutes=30),
        description="a new alert on the same root cause this soon after resolution reopens the "
        "incident instead of opening a duplicate; after it the incident is forgotten",
    )


class FlappingSettings(_Settings):
    max_flips: int = Field(default=4, ge=1, description="state changes allowed within `window`")
    window: Duration = Field(default=timedelta(minutes=15))


class PrioritySettings(_Settings):
    matrix: tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]] = Field(
        default=((1, 2, 3), (2, 3, 4), (3, 4, 5)),
        description="ITIL priority: matrix[impact-1][urgency-1]",
    )
    users_high: int = Field(default=100, description="affected head count for impact 1")
    users_medium: int = Field(default=10, description="affected head count for impact 2")
    cost_high: float = Field(default=10_000.0, description="cost per hour for impact 1")
    urgency_by_severity: dict[str, int] = Field(
        default_factory=lambda: {"critical": 1, "error": 2, "warning": 3, "info": 3}
    )
    cadence: dict[int, Duration] = Field(
        default_factory=lambda: {
            1: timedelta(minutes=30),
            2: timedelta(hours=1),
            3: timedelta(hours=4),
            4: timedelta(hours=8),
            5: timedelta(hours=24),
        },
        description="how often users must hear from the desk, by priority",
    )

    @field_validator("matrix")
    @classmethod
    def _priorities_in_range(
        cls, value: tuple[tuple[int, int, int], ...]
    ) -> tuple[tuple[int, int, int], ...]:
        for row in value:
            for cell in row:
                if not 1 <= cell <= 5:
                    raise ValueError(f"priority {cell} outside 1-5")
        return value


class Silence(_Settings):
    """Mute alerts by label matchers for a time range, as an Alertmanager silence does.

    Matchers use Alertmanager syntax: `alertname="DiskFull"`, `instance=~"db.*"`, `env!="prod"`,
    `job!~"test.*"`; a mapping `{alertname: DiskFull}` means equality.
    """

    id: str | None = None
    matchers: list[str] | dict[str, str] = Field(default_factory=list)
    nodes: list[str] = Field(
        default_factory=list, description="also mute alerts mapped onto these topology nodes"
    )
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    comment: str = ""
    created_by: str = ""


class EngineSettings(_Settings):
    grouping: GroupingSettings = GroupingSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()
    flapping: FlappingSettings = FlappingSettings()
    priority: PrioritySettings = PrioritySettings()
    silences: list[Silence] = Field(default_factory=list)
    maintenance: list[Silence] = Field(
        default_factory=list,
        description="maintenance windows: same shape as silences, reported as maintenance",
    )
    max_alerts_per_incident: int = Field(
        default=500,
        ge=1,
        description="the published record lists at most this many alerts (all are still "
        "counted); a storm of thousands would otherwise make records megabytes large",
    )


def load_settings(path: str | Path | None) -> EngineSettings:
    """Read a rules file (YAML or JSON); `None` gives the built-in defaults."""
    if path is None:
        return EngineSettings()
    text = Path(path).read_text(encoding="utf-8")
    data: Any = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a rules file must be a mapping, not {type(data).__name__}")
    return EngineSettings.model_validate(data)
