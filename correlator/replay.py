"""`correlator replay`: run a file of events through the engine, deterministically.

The clock is the events' own time (firing: startsAt/timestamp; resolved: endsAt), never the wall
clock, so the same input always gives byte-identical output. At the end of the input, time is
let run on (`drain`) just long enough for pending hold-downs to expire, as an idle worker would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from correlator.core import Correlator, IncidentUpdate
from correlator.core.model import IncidentRecord
from correlator.core.settings import EngineSettings
from correlator.wire.decode import DecodeError, decode
from correlator.wire.render.record import build_record
from topology import Topology

#: The clock for a first line that carries no time of its own (PagerDuty resolve, say).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    reason: str
    code: str


def replay_updates(
    engine: Correlator,
    lines: Iterable[bytes | str],
    *,
    on_error: Callable[[BadLine], None] | None = None,
    drain: bool = True,
) -> Iterator[IncidentUpdate]:
    """Feed `lines` (one event each, any format) to `engine`, yielding every update in order."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            alerts = decode(line, received_at=engine.clock or EPOCH)
        except DecodeError as err:
            if on_error is not None:
                on_error(BadLine(number, err.reason, err.code))
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
    lines: Iterable[bytes | str],
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
