"""Engine settings: the models of the correlation rules file (`--rules PATH`,
`CORRELATOR_RULES`); `correlator.wire.rules_file` reads the file.

Every knob has a default that suits a mid-sized organisation, so the engine runs with no file at
all. Durations accept seconds or short forms like `90s`, `15m`, `4h`, `1d`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from correlator.core.durations import coerce_duration

Duration = Annotated[timedelta, BeforeValidator(coerce_duration)]


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupingSettings(_Settings):
    max_hops: int = Field(
        default=6,
        ge=1,
        description="how far along the dependency graph (down or up) two alerts may be and still "
        "share a cause; 6 covers user group -> business service -> service -> host -> storage",
    )
    firing_cause_hops: int = Field(
        default=24,
        ge=1,
        description="how far apart (hops) two alerting nodes may be and still be grouped when "
        "one's failure would take the other down (redundancy honoured) and their alerts started "
        "within 5 minutes of each other; beyond `max_hops` only this rule reaches: a rack "
        "switch's deepest dependents sit 10-20 hops above it at the end of service call chains",
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
    tombstone_ttl: Duration = Field(
        default=timedelta(hours=24),
        description="how long a forgotten alert's end is remembered, so that a firing re-send "
        "delivered late (after its incident was resolved and forgotten) is recognised as "
        "stale instead of opening a duplicate",
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
    matchers: str | list[str] | dict[str, str] = Field(default_factory=list)
    nodes: list[str] = Field(
        default_factory=list, description="also mute alerts mapped onto these topology nodes"
    )
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    comment: str = ""
    created_by: str = ""


class BoundSettings(_Settings):
    """What the engine accepts and holds at most (RELIABILITY.md lists what happens at each)."""

    max_future: Duration = Field(
        default=timedelta(hours=1),
        description="an event time further ahead of the clock (the wall clock in the worker, "
        "the latest event time in replay) is dead-lettered `bad_timestamp` (skipped in replay)",
    )
    max_past: Duration | None = Field(
        default=timedelta(days=30),
        description="a resolve that ends this long before its record was written (its Kafka "
        "timestamp) is dead-lettered `bad_timestamp` (a firing alert's start is never held to "
        "it: long-running alerts are re-sent with their original start); null: no limit",
    )
    stale_after: Duration | None = Field(
        default=timedelta(hours=12),
        description="a firing alert from `stale_sources` not re-sent for this long is resolved "
        "as stale; 3x Alertmanager's default repeat_interval (4h), the longest a healthy "
        "Alertmanager stays silent about an alert that still fires; null: never",
    )
    stale_sources: tuple[str, ...] = Field(
        default=("alertmanager", "grafana"),
        description="sources that re-send firing alerts; others (PagerDuty, native senders) "
        "send a trigger once and are never expired",
    )
    max_alerts: int = Field(
        default=200_000,
        ge=1,
        description="alerts one engine holds at most; a new alert beyond it is dropped and "
        "counted (`correlator_engine_alerts_dropped`), known alerts still update",
    )
    max_tombstones: int = Field(
        default=100_000,
        ge=0,
        description="forgotten alerts one engine remembers at most (`lifecycle.tombstone_ttl`); "
        "beyond it the oldest is forgotten first, and a late re-send of it opens an incident",
    )


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
    bounds: BoundSettings = BoundSettings()
    max_alerts_per_incident: int = Field(
        default=25,
        ge=1,
        description="the published record lists at most this many alerts, firing and most "
        "severe first (`alerts_total` and `alerts_firing` count them all); a record stays the "
        "same size whether the outage has 30 alerts or 10,000",
    )
    max_affected_listed: int = Field(
        default=100,
        ge=1,
        description="each `affected` list in a record names at most this many ids; "
        "`<list>_total` beside it gives the full count",
    )
    max_candidates: int = Field(
        default=10, ge=1, description="root-cause candidates listed in a record"
    )
    update_interval: Duration = Field(
        default=timedelta(seconds=30),
        description="alerts joining or clearing an incident without a change a desk acts on are "
        "published together, at most one version per incident per this much event time",
    )
    recurrence_window: Duration = Field(
        default=timedelta(days=30),
        description="look-back for `recurrence`: earlier incidents on the same root cause",
    )
    recurrence_per_root: int = Field(
        default=20, ge=1, description="resolutions remembered per root cause node"
    )
    recurrence_roots: int = Field(
        default=10_000, ge=1, description="root cause nodes remembered for recurrence"
    )
