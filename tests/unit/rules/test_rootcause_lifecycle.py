"""Record semantics around the root cause: a reopen needs evidence that the old cause is back,
and urgency follows the firing alerts without rising again at recovery."""

from __future__ import annotations

from datetime import timedelta

from correlator.core.engine import Correlator
from correlator.core.settings import EngineSettings, PrioritySettings
from correlator.rules.priority import current_urgency
from tests.unit.engine.conftest import alert, feed, latest

S = timedelta(seconds=1)
M = timedelta(minutes=1)


def _resolved_crm_db_incident(engine: Correlator) -> str:
    records = feed(
        engine,
        alert("db", "crm-db", 0 * S),
        alert("db", "crm-db", 2 * M, status="resolved", started=0 * S),
    )
    engine.tick(engine.clock + 10 * M)  # type: ignore[operator]
    (inc_id,) = latest(records)
    assert engine.incidents[inc_id].status == "resolved"
    return inc_id


def test_unrelated_alert_in_old_blast_radius_does_not_reopen(engine: Correlator) -> None:
    old = _resolved_crm_db_incident(engine)
    records = feed(engine, alert("r1", "reporting-app", 25 * M, severity="warning"))
    (record,) = latest(records).values()
    assert record.id != old
    assert record.root_cause.node == "reporting-app"
    assert engine.incidents[old].status == "resolved"


def test_old_root_firing_again_reopens(engine: Correlator) -> None:
    old = _resolved_crm_db_incident(engine)
    records = feed(engine, alert("db2", "crm-db", 25 * M))
    assert [r.id for r in records] == [old]
    assert engine.incidents[old].status == "open"


def test_old_cause_back_only_as_a_silent_pattern_is_named_again(engine: Correlator) -> None:
    # The first symptom alone is no evidence: it opens its own incident; the second makes the
    # quiet database credible again, and that incident names it (the old one stays closed).
    old = _resolved_crm_db_incident(engine)
    records = feed(
        engine,
        alert("x1", "crm-app", 25 * M),
        alert("x2", "reporting-app", 25 * M + 20 * S),
    )
    (record,) = latest(records).values()
    assert record.id != old
    assert record.root_cause.node == "crm-db"
    assert record.root_cause.silent


def test_urgency_keeps_its_value_at_recovery() -> None:
    settings = PrioritySettings()
    assert current_urgency(["critical", "warning"], [], None, settings) == 1
    assert current_urgency(["warning"], ["critical", "warning"], 1, settings) == 3
    assert current_urgency([], ["critical", "warning"], 3, settings) == 3
    assert current_urgency([], ["critical"], None, settings) == 1


def test_priority_does_not_rise_again_when_everything_clears(engine: Correlator) -> None:
    records = feed(
        engine,
        alert("db", "crm-db", 0 * S, severity="critical"),
        alert("app", "crm-app", 5 * S, severity="warning"),
        alert("db", "crm-db", 3 * M, status="resolved", started=0 * S),
        alert("app", "crm-app", 6 * M, status="resolved", started=5 * S, severity="warning"),
    )
    records += [u.record for u in engine.tick(engine.clock + 10 * M)]  # type: ignore[operator]
    priorities = [r.priority for r in records]
    lowest = max(priorities)
    after = priorities[priorities.index(lowest) :]
    assert priorities[0] < lowest, "the critical alert clearing lowers the priority"
    assert all(p == lowest for p in after), priorities


def test_engine_settings_default_coverage() -> None:
    assert EngineSettings().grouping.silent_min_coverage == 0.4
