"""Priority: ITIL impact x urgency, the resolver group, and when users must next hear from us.

* impact 1-3 from the affected head count, the cost per hour and the criticality of what is
  down (1 = widespread);
* urgency 1-3 from the most severe active alert (1 = critical); at recovery (nothing firing) it
  keeps its last value instead of rising back to the cleared alerts' severity;
* priority 1-5 from the configurable matrix; the update cadence follows priority.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from correlator.core.settings import PrioritySettings

_CRITICALITY_IMPACT = {"critical": 1, "high": 2}


def impact_level(
    users: int, cost_per_hour: float, criticalities: Iterable[str], settings: PrioritySettings
) -> int:
    level = 3
    if users >= settings.users_medium:
        level = 2
    if users >= settings.users_high or cost_per_hour >= settings.cost_high:
        level = 1
    for criticality in criticalities:
        level = min(level, _CRITICALITY_IMPACT.get(criticality, 3))
    return level


def urgency_level(severities: Iterable[str], settings: PrioritySettings) -> int:
    return min((settings.urgency_by_severity.get(s, 3) for s in severities), default=3)


def current_urgency(
    firing: Iterable[str],
    every: Iterable[str],
    previous: int | None,
    settings: PrioritySettings,
) -> int:
    """Urgency follows the alerts that are firing (`firing`: their severities). When none is
    firing (recovery), it keeps `previous`, the urgency last published: recovering must not
    raise it again (a critical alert that cleared before the warnings would otherwise bring
    P1 -> P3 -> P1 at the moment everything clears, and restart the update cadence). With no
    previous value (an incident first assessed with nothing firing), all alerts count."""
    severities = list(firing)
    if severities:
        return urgency_level(severities, settings)
    if previous is not None:
        return previous
    return urgency_level(every, settings)


def priority_of(impact: int, urgency: int, settings: PrioritySettings) -> int:
    return settings.matrix[impact - 1][urgency - 1]


def next_update_at(
    anchor: datetime, now: datetime, priority: int, settings: PrioritySettings
) -> datetime:
    """The first slot of the priority's cadence, counted from `anchor`, that is after `now`."""
    cadence = settings.cadence.get(priority, timedelta(hours=4))
    if cadence <= timedelta(0):
        return now
    elapsed = max(timedelta(0), now - anchor)
    slots = elapsed // cadence + 1
    return anchor + cadence * slots
