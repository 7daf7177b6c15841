"""A risk is not an outage (issue 10): only warnings on the root cause leave people able to
work, so nothing accrues, the stake is reported apart, and impact stays at most 2; one critical
alert on the root makes it an outage, published at once, from which cost accrues."""

from __future__ import annotations

from datetime import timedelta

from correlator.core import Correlator
from correlator.core.assess import AT_RISK_IMPACT
from correlator.core.model import IncidentRecord
from correlator.core.settings import EngineSettings
from correlator.core.state import Assessment
from correlator.wire.render.record import build_record
from tests.unit.engine.conftest import T0, alert, feed
from topology import Topology

M = timedelta(minutes=1)
H = timedelta(hours=1)


def tick(engine: Correlator, at: timedelta) -> list[IncidentRecord]:
    return [u.record for u in engine.tick(T0 + at)]


def _outage_per_hour(org: Topology) -> float:
    return round(org.impact(["crm-db"]).cost_per_hour, 2)


def test_a_warning_is_priced_as_a_stake_and_accrues_nothing(
    engine: Correlator, org: Topology
) -> None:
    first = feed(engine, alert("w", "crm-db", 0 * M, severity="warning"))[-1]
    assert first.at_risk
    assert first.cost.per_hour == 0
    assert first.cost.at_risk_per_hour == _outage_per_hour(org) > 0
    assert "at risk" in first.title and "affected" not in first.title
    assert "Services at risk" in first.summary and "unavailable" not in first.summary
    # 200 people and a high-criticality database would be impact 1 if they could not work.
    assert first.affected.users >= EngineSettings().priority.users_high
    assert first.impact == AT_RISK_IMPACT

    due = first.next_update_at
    assert due is not None and due - T0 >= H
    later = [u.record for u in engine.tick(due)]
    assert later and later[-1].at_risk
    assert later[-1].cost.accrued == 0  # an hour and more of warnings: nobody lost time


def test_a_critical_alert_on_the_root_turns_the_risk_into_an_outage_at_once(
    engine: Correlator, org: Topology
) -> None:
    feed(engine, alert("w", "crm-db", 0 * M, severity="warning"))
    out = feed(engine, alert("c", "crm-db", 30 * M, severity="critical"))
    assert len(out) == 1, "becoming an outage must not wait for the coalescing interval"
    outage = out[0]
    assert not outage.at_risk
    assert "affected" in outage.changes
    assert {"impact", "priority"} <= set(outage.changes)
    assert outage.impact == 1
    assert outage.cost.per_hour == _outage_per_hour(org)
    assert outage.cost.at_risk_per_hour == 0
    assert outage.cost.accrued == 0  # the half hour of warnings cost nothing
    assert "failure" in outage.title and "affected" in outage.title
    assert "Services unavailable" in outage.summary

    # From the switch on it accrues at the outage rate: one hour later, one hour's worth.
    resolved = feed(engine, alert("c", "crm-db", 90 * M, status="resolved"))
    resolved += feed(engine, alert("w", "crm-db", 90 * M, status="resolved", severity="warning"))
    resolved += tick(engine, 2 * H)
    final = [r for r in resolved if r.status == "resolved"][-1]
    assert final.cost.accrued == round(_outage_per_hour(org) * 1.0, 2)


def test_the_risk_survives_a_restart_without_accruing(org: Topology) -> None:
    first = Correlator(org, EngineSettings(), render=build_record)
    feed(first, alert("w", "crm-db", 0 * M, severity="warning"))
    second = Correlator(org, EngineSettings(), render=build_record)
    second.restore(first.snapshot())
    out = feed(second, alert("c", "crm-db", 2 * H, severity="critical"))
    assert out and not out[-1].at_risk and out[-1].cost.accrued == 0
    assert out[-1].cost.per_hour == _outage_per_hour(org)


def test_an_outage_stays_one_when_only_warnings_remain(engine: Correlator) -> None:
    """People did lose time; a priority falling back mid-incident would restart the cadence."""
    feed(engine, alert("c", "crm-db", 0 * M, severity="critical"))
    feed(engine, alert("w", "crm-db", 1 * M, severity="warning"))
    out = feed(engine, alert("c", "crm-db", 5 * M, status="resolved"))
    out += tick(engine, 10 * M)
    assert out and all(not r.at_risk and r.cost.per_hour > 0 for r in out)


def test_a_silent_root_is_an_outage_not_a_risk(engine: Correlator) -> None:
    # Warnings on both apps: the quiet database below them is the probable cause, and a
    # component that raised nothing is presumed down (no alert of its own says "degraded").
    feed(engine, alert("a", "crm-app", 0 * M, severity="warning"))
    out = feed(engine, alert("b", "reporting-app", 0 * M, severity="warning"))
    record = out[-1]
    assert record.root_cause is not None and record.root_cause.silent
    assert not record.at_risk and record.cost.at_risk_per_hour == 0


def test_assessment_keeps_the_flag_and_reads_older_states() -> None:
    verdict = Assessment(at_risk=True, at_risk_per_hour=12.5, cost_per_hour=0.0)
    again = Assessment.from_dict(verdict.to_dict())
    assert again.at_risk and again.at_risk_per_hour == 12.5
    older = verdict.to_dict()
    del older["at_risk"], older["at_risk_per_hour"]
    assert not Assessment.from_dict(older).at_risk
