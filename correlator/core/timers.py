"""The timer wheel: what the engine must do later, and when.

A timer is `(when, kind, key)`: key is an incident id (hold-down, forget) or an alert fingerprint
(settle, stale, unmute). Timers due together fire in `(when, kind, key)` order, never in the
order they were scheduled, so that a restored engine (which schedules in another order) fires
them exactly as the engine it replaces would have.

`timers_for` is the one place that says which timers an incident or an alert needs: the engine
calls it whenever one changes, and `persist.restore` calls it for everything it reads back.

A changed item's old timers are not looked for: they stay in the heap, and their handlers find
nothing to do when they fire. That is cheap per change but not bounded: an incident's
update-due timer lies up to the slowest cadence ahead (24 h at priority 5), so at hundreds of
incidents a second the heap would hold a day of them after their incidents are forgotten. So
when the heap outgrows what the live items can need (`overgrown`), the engine throws it away
and schedules every live item's timers again (`persist.reschedule`), exactly as a restore does.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Final, NamedTuple

from correlator.core.model import IncidentPhase, TimerKind
from correlator.core.settings import EngineSettings
from correlator.core.state import AlertState, Incident
from correlator.rules import flapping
from correlator.rules.suppression import CompiledSilence


class Timer(NamedTuple):
    when: datetime
    kind: TimerKind
    key: str


#: Stale timers allowed beyond the bound of `overgrown`, so that a small engine is not
#: rescheduled every few changes.
COMPACT_SLACK: Final = 4096


class TimerWheel:
    """A heap of timers; duplicates are allowed (each handler re-checks that it still applies)."""

    __slots__ = ("_heap", "_live")

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._live = 0  # the heap's size when it was last rebuilt from the live items

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, timers: Iterable[Timer]) -> None:
        for timer in timers:
            heapq.heappush(self._heap, timer)

    def pop_due(self, now: datetime) -> Timer | None:
        """The earliest timer due at or before `now`, removed; None when none is due."""
        if self._heap and self._heap[0].when <= now:
            return heapq.heappop(self._heap)
        return None

    def clear(self) -> None:
        self._heap.clear()
        self._live = 0

    def overgrown(self, items: int) -> bool:
        """True when the heap holds more than twice what the live items needed when it was
        last rebuilt, and more than one timer per live item (`items`), plus `COMPACT_SLACK`.
        Rebuilding costs O(items) and then takes at least `items` more schedules to be due
        again: amortised O(1) per schedule, and the heap stays O(live items)."""
        return len(self._heap) > max(2 * self._live, items) + COMPACT_SLACK

    def rebuilt(self) -> None:
        """The heap now holds just what the live items need (after `clear` and `schedule`)."""
        self._live = len(self._heap)


def timers_for(
    item: Incident | AlertState,
    settings: EngineSettings,
    silences: Sequence[CompiledSilence] = (),
    now: datetime | None = None,
) -> list[Timer]:
    """The timers `item` needs in its present state (`now` is needed only for muted alerts).

    * an open incident with no active alert resolves after the hold-down;
    * a resolved incident is forgotten when its reopen window closes;
    * a flapping alert is checked for settling one flapping window after its last flip;
    * a resolved alert stops drawing related alerts into its incident after the grouping window;
    * a muted alert is reconsidered when the first silence muting it ends;
    * an incident with alert changes waiting publishes them one `update_interval` after its
      last version (coalesce);
    * an open incident publishes `update_due` when its `next_update_at` passes (once: that
      version leaves the deadline as it was, overdue, until a version with news moves it).
    """
    if isinstance(item, Incident):
        return _incident_timers(item, settings)
    key = item.fingerprint
    timers: list[Timer] = []
    settle = flapping.settle_deadline(item, settings.flapping)
    if settle is not None:
        timers.append(Timer(settle, TimerKind.SETTLE, key))
    if not item.active and item.ends_at is not None:
        timers.append(Timer(item.ends_at + settings.grouping.window, TimerKind.STALE, key))
    if item.suppressed_by is not None and item.active and now is not None:
        ends = [
            s.ends_at
            for s in silences
            if s.ends_at is not None and s.active_at(now) and s.ends_at > now
        ]
        if ends:
            timers.append(Timer(min(ends), TimerKind.UNMUTE, key))
    return timers


def _incident_timers(inc: Incident, settings: EngineSettings) -> list[Timer]:
    timers: list[Timer] = []
    if inc.pending and inc.version:
        timers.append(Timer(inc.updated_at + settings.update_interval, TimerKind.COALESCE, inc.id))
    if inc.status == IncidentPhase.OPEN:
        if inc.quiet_since is not None:
            timers.append(
                Timer(inc.quiet_since + settings.lifecycle.hold_down, TimerKind.HOLD_DOWN, inc.id)
            )
        if inc.next_update_at is not None and inc.updated_at < inc.next_update_at:
            timers.append(Timer(inc.next_update_at, TimerKind.UPDATE_DUE, inc.id))
    elif inc.status == IncidentPhase.RESOLVED and inc.resolved_at is not None:
        timers.append(
            Timer(inc.resolved_at + settings.lifecycle.reopen_window, TimerKind.FORGET, inc.id)
        )
    return timers
