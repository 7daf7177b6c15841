"""Evidence for a cause that raised no alert (the "codebook" view of event correlation).

Each candidate cause predicts a pattern: its failure would break every monitored component in
its blast radius (redundancy honoured, `Topology.effects`). The observed pattern is which of those
are alerting. A quiet dependency is a credible root only when its predicted pattern is largely
observed, tolerating lost alerts (monitoring is never complete) but not a blast radius that
mostly stays healthy: two alerts under a core switch whose 31 other monitored dependents are
fine are two faults, not a switch failure.

"Monitored" is what the engine can know without a monitoring inventory: every machine node
(anything but user groups and business services, which never alert of their own) is presumed
monitored. Healthy presumed-monitored dependents therefore count against a silent cause; a
`silent_min_coverage` below 1 is the tolerance for the ones that are in fact not monitored.

Timing is evidence too: one failure makes its dependents alert within a detection window (a few
scrape and rule-evaluation intervals); alerts below a common dependency whose onsets are further
apart than `ONSET_WINDOW` are more likely separate faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from correlator.rules.wording import agree, count

#: How far apart the first alerts of one failure's dependents may start: a few scrape intervals
#: plus an alert rule's `for:` duration. Wider spreads weigh against a common silent cause.
ONSET_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the alerts say about one candidate cause."""

    expected: int
    """monitored components its failure would break (itself excluded)"""
    alerting: int
    """of those, how many are alerting (or alerted in this incident)"""
    onset_spread: timedelta = timedelta(0)
    """time between the first and the last onset of those alerts"""

    @property
    def healthy(self) -> int:
        return max(0, self.expected - self.alerting)

    @property
    def coverage(self) -> float:
        """Share of the predicted pattern that is observed (1.0 when nothing is predicted)."""
        return min(1.0, self.alerting / self.expected) if self.expected else 1.0

    @property
    def timely(self) -> bool:
        return self.onset_spread <= ONSET_WINDOW

    def credible_silent(self, min_coverage: float) -> bool:
        """Could this quiet node be the one failure behind these alerts?"""
        return self.alerting >= 2 and self.coverage >= min_coverage and self.timely

    def describe(self) -> str:
        """The evidence in words a desk can read out."""
        text = (
            f"its failure would break {count(self.expected, 'monitored component')}, "
            f"of which {self.alerting} {agree(self.alerting, 'alerts', 'alert')}"
        )
        if not self.timely:
            minutes = self.onset_spread.total_seconds() / 60
            text += f", and their alerts started {minutes:.0f} minutes apart"
        return text


def onset_spread(onsets: list[datetime]) -> timedelta:
    return max(onsets) - min(onsets) if len(onsets) > 1 else timedelta(0)
