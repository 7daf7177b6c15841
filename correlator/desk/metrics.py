"""Process metrics read from the desk view at scrape time (a collector, as
prometheus/client_python's own collectors do: no snapshot copied by hand, nothing stale).

People are counted once across open incidents: a user group hit by two incidents counts its
head count once (the old per-incident sum said 670 people in an organisation of 485). Its
people "cannot work" when any open incident that hits it is an outage, else they are "at risk"
(every incident hitting them is a warning on its root cause).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from statistics import median

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from correlator.desk.view import DeskRecord, DeskView, Filters, now_utc
from topology import Topology


@dataclass(frozen=True, slots=True)
class DeskSummary:
    open_incidents: int
    cannot_work: int
    """People (distinct) in user groups hit by an open outage."""
    at_risk: int
    """People (distinct) hit only by open incidents that are warnings."""
    updates_overdue: int
    subscriptions: int
    cost_per_hour: float
    cost_accrued: float
    currency: str
    view_ready: bool
    repeats_open: int = 0
    """Open incidents whose root cause failed before within the recurrence look-back."""
    reopened_open: int = 0
    """Open incidents that were resolved and came back."""
    resolved_recently: int = 0
    """Incidents resolved within RECENT (of those the view keeps)."""
    median_resolve_seconds: float | None = None
    """Median time to resolve of those, None when there are none."""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _head_counts(records: list[DeskRecord], topology: Topology | None) -> tuple[int, int]:
    down: set[str] = set()
    risk: set[str] = set()
    for record in records:
        (risk if record.at_risk else down).update(record.affected.user_groups)
    risk -= down
    if topology is None:
        # No topology yet: the largest single incident is the best lower bound there is.
        most = max((r.affected.users for r in records if not r.at_risk), default=0)
        return most, 0
    nodes = topology.nodes

    def people(groups: set[str]) -> int:
        return sum(info.users for g in groups if (info := nodes.get(g)) is not None)

    return people(down), people(risk)


#: The window of the page's "resolved" figures.
RECENT = timedelta(hours=24)


def _resolved_recently(view: DeskView, now: datetime) -> list[float]:
    """Seconds to resolve of the incidents the view keeps that were resolved within RECENT
    (merged ones are not resolutions)."""
    closed = view.records(Filters(status="resolved"))
    return [
        (r.resolved_at - r.opened_at).total_seconds()
        for r in closed
        if r.status == "resolved" and r.resolved_at is not None and now - r.resolved_at <= RECENT
    ]


def summarise(view: DeskView, topology: Topology | None, now: datetime) -> DeskSummary:
    records = view.records()
    resolved = _resolved_recently(view, now)
    cannot_work, at_risk = _head_counts(records, topology)
    currencies = {r.cost.currency for r in records}
    return DeskSummary(
        open_incidents=len(records),
        cannot_work=cannot_work,
        at_risk=at_risk,
        updates_overdue=sum(1 for r in records if r.overdue(now)),
        subscriptions=sum(len(view.subscribers(r.id)) for r in records),
        # Costs of people at risk are not counted: they can still work (issue 10).
        cost_per_hour=round(sum(r.cost.per_hour for r in records if not r.at_risk), 2),
        cost_accrued=round(sum(r.cost.accrued for r in records if not r.at_risk), 2),
        currency=currencies.pop() if len(currencies) == 1 else "mixed" if currencies else "USD",
        view_ready=view.ready,
        repeats_open=sum(1 for r in records if r.repeat),
        reopened_open=sum(1 for r in records if r.reopened > 0),
        resolved_recently=len(resolved),
        median_resolve_seconds=round(median(resolved), 1) if resolved else None,
    )


class DeskCollector(Collector):
    def __init__(
        self,
        view: DeskView,
        topology: Callable[[], Topology | None],
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._view = view
        self._topology = topology
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        s = summarise(self._view, self._topology(), self._clock())
        people = GaugeMetricFamily(
            "correlator_desk_people_affected",
            "People in user groups hit by open incidents, each counted once: 'cannot_work' "
            "(an outage hits them) or 'at_risk' (only warnings do).",
            labels=["impact"],
        )
        people.add_metric(["cannot_work"], s.cannot_work)
        people.add_metric(["at_risk"], s.at_risk)
        yield people
        yield GaugeMetricFamily(
            "correlator_desk_updates_overdue",
            "Open incidents whose next user update (next_update_at) has passed.",
            value=s.updates_overdue,
        )
        yield GaugeMetricFamily(
            "correlator_desk_subscriptions",
            "People subscribed to the updates of open incidents (one per person and incident).",
            value=s.subscriptions,
        )
        yield _open_incidents(self._view.records())
        yield GaugeMetricFamily(
            "correlator_desk_cost_accrued",
            "Lost productivity so far of open outages, in the topology's currency.",
            value=s.cost_accrued,
        )
        yield GaugeMetricFamily(
            "correlator_desk_repeat_incidents",
            "Open incidents whose root cause failed before within the recurrence look-back.",
            value=s.repeats_open,
        )
        yield GaugeMetricFamily(
            "correlator_desk_reopened_incidents",
            "Open incidents that were resolved and reopened.",
            value=s.reopened_open,
        )
        yield GaugeMetricFamily(
            "correlator_desk_view_ready",
            "1 once the desk view caught up with the incidents topic.",
            value=1 if s.view_ready else 0,
        )
        yield CounterMetricFamily(
            "correlator_desk_view_records_skipped",
            "Incidents-topic records the desk view could not read (not incident records).",
            value=self._view.stats.skipped,
        )


def _open_incidents(records: list[DeskRecord]) -> GaugeMetricFamily:
    """Open incidents by priority and resolver group (every worker sees all of them: take
    `max`, not `sum`, over workers)."""
    counts: dict[tuple[str, str], int] = {}
    for r in records:
        key = (str(r.priority), r.assignment_group or "none")
        counts[key] = counts.get(key, 0) + 1
    family = GaugeMetricFamily(
        "correlator_desk_open_incidents",
        "Open incidents in this worker's desk view, by priority and resolver group (every "
        "worker sees all of them).",
        labels=["priority", "assignment_group"],
    )
    for (priority, group), count in sorted(counts.items()):
        family.add_metric([priority, group], count)
    return family
