"""The engine clock of the worker: event time, and the wall clock only while idle.

Every engine decides by the events' own timestamps, so a backlog read an hour late correlates
exactly as it would have live, and exactly as `correlator replay` does on the same input:

* an event is ingested at `now = max(event time, last now)`: the clock never goes back;
* when an engine has seen no event for a tick interval, it is ticked at the time of its last
  event *plus the wall time elapsed since that event arrived* (never less than `last now`).
  An idle partition therefore still resolves its incidents once the hold-down has passed in
  wall time, while a busy one (a backlog, a replay) is driven by event time alone.

After a restart the elapsed wall time counts from the restore, not from the last event: the
worker cannot know how long it was down, and a shorter estimate only delays a resolution.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from correlator.core import bounds
from correlator.core.model import utc


class EventClock:
    """One engine's clock. `mono` arguments are `time.monotonic()` readings."""

    __slots__ = ("_anchor_event", "_anchor_mono", "last_event_mono", "now", "rate")

    def __init__(self, now: datetime | None = None, mono: float = 0.0, rate: float = 1.0) -> None:
        # A checkpoint saved before event times were bounded may hold a year-9999 clock:
        # clamped, it can no longer overflow the arithmetic below (`core.bounds`).
        self.now: datetime | None = bounds.clamp(now) if now is not None else None
        self.rate = rate
        """Event seconds per idle wall second: 1 in production; a demo lets time run faster."""
        self._anchor_event = self.now
        self._anchor_mono = mono
        self.last_event_mono = mono
        """When the last event (or the restore) happened, for the idle check."""

    def on_event(self, event_time: datetime, mono: float) -> datetime:
        """The `now` to ingest an event of `event_time` at; advances the clock."""
        event_time = utc(event_time)
        self.last_event_mono = mono
        if self.now is None or event_time >= self.now:
            self.now = event_time
            self._anchor_event = event_time
            self._anchor_mono = mono
        return self.now

    def idle_now(self, mono: float) -> datetime | None:
        """The `now` to tick an idle engine at; None before the first event."""
        if self._anchor_event is None or self.now is None:
            return None
        elapsed = timedelta(seconds=max(0.0, mono - self._anchor_mono) * self.rate)
        extrapolated = bounds.clamp(bounds.add(self._anchor_event, elapsed))
        self.now = max(self.now, extrapolated)
        return self.now

    def idle_for(self, mono: float) -> float:
        return mono - self.last_event_mono
