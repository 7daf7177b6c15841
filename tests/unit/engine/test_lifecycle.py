"""The incident state machine: the table itself, and the engine walking it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from correlator.core import Correlator
from correlator.core.lifecycle import TRANSITIONS, Event, LifecycleError, next_status
from correlator.core.model import IncidentPhase, IncidentRecord
from correlator.errors import CorrelatorError
from tests.unit.engine.conftest import alert, feed

M = timedelta(minutes=1)


def after(engine: Correlator, delta: timedelta) -> list[IncidentRecord]:
    """Let `delta` pass on the engine's own clock."""
    assert engine.clock is not None
    return [u.record for u in engine.tick(engine.clock + delta)]


def test_the_table_allows_exactly_the_documented_moves() -> None:
    moves = {
        (start, event, end) for start, row in TRANSITIONS.items() for event, end in row.items()
    }
    assert moves == {
        (None, Event.OPEN, IncidentPhase.OPEN),
        (IncidentPhase.OPEN, Event.MERGE, IncidentPhase.MERGED),
        (IncidentPhase.OPEN, Event.RESOLVE, IncidentPhase.RESOLVED),
        (IncidentPhase.RESOLVED, Event.REOPEN, IncidentPhase.OPEN),
        (IncidentPhase.RESOLVED, Event.FORGET, None),
    }


@pytest.mark.parametrize(
    ("status", "event"),
    [
        (IncidentPhase.OPEN, Event.REOPEN),
        (IncidentPhase.OPEN, Event.FORGET),
        (IncidentPhase.RESOLVED, Event.MERGE),
        (IncidentPhase.MERGED, Event.REOPEN),
        (None, Event.RESOLVE),
    ],
)
def test_a_move_the_table_lacks_is_refused(status: IncidentPhase | None, event: Event) -> None:
    with pytest.raises(LifecycleError) as caught:
        next_status(status, event)
    assert isinstance(caught.value, CorrelatorError)


def test_open_resolve_reopen_forget(engine: Correlator) -> None:
    lifecycle = engine.settings.lifecycle
    opened = feed(engine, alert("a", "crm-db", 0 * M))
    inc_id = opened[0].id
    assert engine.incidents[inc_id].status == IncidentPhase.OPEN
    feed(engine, alert("a", "crm-db", 2 * M, status="resolved", started=0 * M))
    resolved = after(engine, lifecycle.hold_down)
    assert [r.status for r in resolved] == ["resolved"]
    assert resolved[0].resolved_at is not None
    reopened = feed(engine, alert("a", "crm-db", 10 * M))
    assert [(r.id, r.status, r.reopened) for r in reopened] == [(inc_id, "open", 1)]
    feed(engine, alert("a", "crm-db", 11 * M, status="resolved", started=10 * M))
    after(engine, lifecycle.hold_down)
    assert engine.incidents[inc_id].status == IncidentPhase.RESOLVED
    assert after(engine, lifecycle.reopen_window) == []
    assert inc_id not in engine.incidents
    assert "a" not in engine.alerts
