"""`correlator replay`: run a file of events through the engine, deterministically.

The clock is the events' own time (firing: startsAt/timestamp; resolved: endsAt), never the wall
clock, so the same input always gives byte-identical output. At the end of the input, time is
let run on (`drain`) just long enough for pending hold-downs to expire, as an idle worker would.

Time bounds (RELIABILITY.md): the decoders' absolute range (1970 to 2199, `core.bounds`), and
`bounds.max_future` ahead of the wall clock read once at the start (`now`): a replay file is
recorded history, so nothing in it can be later than that; such a line is skipped as
`bad_timestamp` and never moves the clock. This is the one use of the wall clock, and it keeps
replay deterministic for any file of past events: as time passes a line can only go from
skipped to accepted. (The latest event time is no reference: recorded files have gaps of
hours or days between events.) Lines are read with a bounded `readline` (`bounded_lines`): a
line over `max_line_bytes` is skipped as `too_large` without ever being held whole, and
skipped lines are reported, never kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Final

from correlator.core import Correlator, IncidentUpdate
from correlator.core.bounds import event_time_problem
from correlator.core.model import IncidentRecord
from correlator.core.settings import EngineSettings
from correlator.wire.decode import DEFAULT_MAX_BYTES, DecodeError, decode
from correlator.wire.render.record import build_record
from topology import Topology

#: The clock for a first line that carries no time of its own (PagerDuty resolve, say).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


#: Read this much of an over-long line at a time while skipping it.
_SKIP_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    reason: str
    code: str


@dataclass(frozen=True, slots=True)
class LongLine:
    """Stands for a line over the limit, which was skipped unread."""

    size: int


def bounded_lines(
    stream: IO[bytes], max_line_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[bytes | LongLine]:
    """The lines of `stream`, each read with `readline(limit)`: at most `max_line_bytes` (+1
    to see the newline) is ever in memory for one line; a longer one comes out as `LongLine`."""
    while True:
        line = stream.readline(max_line_bytes + 1)
        if not line:
            return
        if len(line) <= max_line_bytes or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)
        del line
        while True:  # skip the rest of it, a chunk at a time
            rest = stream.readline(_SKIP_CHUNK)
            size += len(rest)
            if not rest or rest.endswith(b"\n"):
                break
        yield LongLine(size)


def replay_updates(
    engine: Correlator,
    lines: Iterable[bytes | str | LongLine],
    *,
    on_error: Callable[[BadLine], None] | None = None,
    drain: bool = True,
    now: datetime | None = None,
) -> Iterator[IncidentUpdate]:
    """Feed `lines` (one event each, any format) to `engine`, yielding every update in order.
    `now`: the wall clock, for the `max_future` bound (default: read once, here)."""
    max_future = engine.settings.bounds.max_future
    wall = now or datetime.now(UTC)
    for number, line in enumerate(lines, start=1):
        if isinstance(line, LongLine):
            if on_error is not None:
                reason = f"line of {line.size} bytes, over the {DEFAULT_MAX_BYTES} limit"
                on_error(BadLine(number, reason, "too_large"))
            continue
        if not line.strip():
            continue
        try:
            alerts = decode(line, received_at=engine.clock or EPOCH)
        except DecodeError as err:
            if on_error is not None:
                on_error(BadLine(number, err.reason, err.code))
            continue
        problem = next(
            (
                p
                for p in (event_time_problem(a, now=wall, max_future=max_future) for a in alerts)
                if p is not None
            ),
            None,
        )
        if problem is not None:
            if on_error is not None:
                on_error(BadLine(number, problem, "bad_timestamp"))
            continue
        yield from engine.ingest_many((alert, alert.event_time) for alert in alerts)
    if drain and engine.clock is not None:
        settings = engine.settings
        horizon = engine.clock + settings.flapping.window + settings.lifecycle.hold_down
        yield from engine.tick(horizon)
        # Then on to the update deadline of every incident left open, so its one `update_due`
        # chase is in the output too (after that nothing more happens until the next event).
        due = [
            inc.next_update_at
            for inc in engine.incidents.values()
            if inc.status == "open" and inc.next_update_at is not None
        ]
        if due:
            yield from engine.tick(max(*due, horizon))


def replay_lines(
    topology: Topology,
    settings: EngineSettings | None,
    lines: Iterable[bytes | str | LongLine],
    *,
    on_error: Callable[[BadLine], None] | None = None,
    drain: bool = True,
) -> list[IncidentRecord]:
    engine = Correlator(topology, settings, render=build_record)
    return [u.record for u in replay_updates(engine, lines, on_error=on_error, drain=drain)]


def final_states(records: Iterable[IncidentRecord]) -> dict[str, IncidentRecord]:
    """The latest version of every incident, as a compacted incidents topic would hold it."""
    latest: dict[str, IncidentRecord] = {}
    for record in records:
        current = latest.get(record.id)
        if current is None or record.version >= current.version:
            latest[record.id] = record
    return latest
