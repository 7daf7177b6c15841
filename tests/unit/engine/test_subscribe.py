"""`Correlator.subscribe`: a person asks to hear of an incident; the next version lists them."""

from __future__ import annotations

from datetime import timedelta

from correlator.core import Correlator
from correlator.core.settings import EngineSettings
from correlator.wire.render.record import build_record
from tests.unit.engine.conftest import T0, alert, feed

M = timedelta(minutes=1)


def test_subscribe_publishes_a_version_listing_the_subscribers(engine: Correlator) -> None:
    opened = feed(engine, alert("a", "crm-db", 0 * M))
    inc_id = opened[0].id
    first = engine.subscribe(inc_id, "bob", T0 + 1 * M)
    assert [u.record.changes for u in first] == [["subscribers"]]
    assert first[0].record.subscribers == ["bob"]
    assert first[0].version == opened[-1].version + 1
    second = engine.subscribe(inc_id, "alice", T0 + 2 * M)
    assert second[0].record.subscribers == ["alice", "bob"]
    assert second[0].record.root_cause == opened[-1].root_cause


def test_subscribe_is_idempotent_and_ignores_unknown_incidents(engine: Correlator) -> None:
    inc_id = feed(engine, alert("a", "crm-db", 0 * M))[0].id
    assert engine.subscribe("INC-NOPE", "bob", T0 + 1 * M) == []
    assert len(engine.subscribe(inc_id, "bob", T0 + 1 * M)) == 1
    assert engine.subscribe(inc_id, "bob", T0 + 2 * M) == []
    later = feed(engine, alert("b", "crm-app", 3 * M))
    assert all(r.subscribers == ["bob"] for r in later if r.id == inc_id)


def test_subscribers_survive_a_restore(engine: Correlator) -> None:
    inc_id = feed(engine, alert("a", "crm-db", 0 * M))[0].id
    engine.subscribe(inc_id, "bob", T0 + 1 * M)
    restored = Correlator(engine.topology, EngineSettings(), render=build_record)
    restored.restore(engine.snapshot())
    assert restored.incidents[inc_id].subscribers == {"bob"}
    assert restored.subscribe(inc_id, "bob", T0 + 2 * M) == []
    out = restored.subscribe(inc_id, "carol", T0 + 2 * M)
    assert out[0].record.subscribers == ["bob", "carol"]
