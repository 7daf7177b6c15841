"""Text a desk can trust (issue 10): words agree with their counts, times say their zone and
their day, and the terminal text tells a risk from an outage as the record does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from correlator.core.engine import Correlator
from correlator.core.model import Alert, IncidentRecord
from correlator.core.settings import EngineSettings
from correlator.demo import run_demo
from correlator.desk.view import DeskRecord
from correlator.rules.wording import all_unexplained_depend, count, depend, others_are, out_of
from correlator.wire.render.record import build_record
from correlator.wire.render.text import (
    describe_impact,
    describe_update,
    display_names,
    plural,
    utc_time,
)
from tests.unit.engine.conftest import ORG, T0, alert
from topology import Topology, load_example, load_topology

M = timedelta(minutes=1)


@pytest.fixture
def org(tmp_path: Path) -> Topology:
    path = tmp_path / "org.yaml"
    path.write_text(ORG)
    return load_topology(path)


def _run(org: Topology, *alerts: Alert) -> list[IncidentRecord]:
    engine = Correlator(org, EngineSettings(), render=build_record)
    out: list[IncidentRecord] = []
    for a in alerts:
        out.extend(u.record for u in engine.ingest(a, a.event_time))
    return out


def test_counts_agree_with_their_nouns() -> None:
    assert plural(1, "re-send") == "1 re-send"
    assert plural(2, "re-send") == "2 re-sends"
    assert plural(1, "person", "people") == "1 person"
    assert count(1, "monitored component") == "1 monitored component"
    assert count(0, "other alerting component") == "no other alerting component"
    assert out_of(1, 1, "alerting component") == "the other alerting component"
    assert out_of(2, 2, "alerting component") == "both other alerting components"
    assert out_of(1, 3, "alerting component") == "1 of the 3 other alerting components"
    assert others_are(1) == "1 other alerting component is"
    assert others_are(4) == "4 other alerting components are"
    assert depend(1) == "1 alerting component depends"
    assert all_unexplained_depend(1).endswith("component that nothing else explains depends")
    assert (
        all_unexplained_depend(5) == "all 5 alerting components that nothing else explains depend"
    )


def test_times_carry_their_zone_and_a_date_when_not_the_incidents_day() -> None:
    day = T0.date()
    assert utc_time(T0.replace(hour=5, minute=30), day) == "05:30 UTC"
    assert utc_time(T0 + timedelta(hours=20), day) == "2026-11-23 01:00 UTC"
    # A time in another zone is told in UTC, on the UTC day.
    dallas = timezone(timedelta(hours=-6))
    evening = datetime(2026, 11, 22, 20, 15, tzinfo=dallas)
    assert utc_time(evening, day) == "2026-11-23 02:15 UTC"
    assert utc_time(T0, None) == "2026-11-22 05:00 UTC"
    assert utc_time(T0 + 5 * M, day, seconds=True) == "05:05:00 UTC"


def test_several_failed_nodes_fail_together_in_the_impact_text() -> None:
    topology = load_example()
    failed = ["crm-web-1", "crm-web-2"]
    owners: list[str] = []
    text = describe_impact(topology, failed, topology.impact(failed), owners)
    first = text.splitlines()[0]
    assert first.startswith("If ") and first.endswith(" fail:")
    assert "(crm-web-1) and " in first and ", " not in first
    single = describe_impact(topology, ["crm-web-1"], topology.impact(["crm-web-1"]), owners)
    assert single.splitlines()[0].endswith(" fails:")


def test_reasons_agree_in_number(org: Topology) -> None:
    records = _run(
        org,
        alert("a", "crm-app", 0 * M),
        alert("b", "reporting-app", 0 * M),
        alert("c", "crm-db", 1 * M),
    )
    quiet = next(r for r in records if r.root_cause and r.root_cause.silent)
    assert quiet.root_cause is not None
    assert "both alerting components that nothing else explains depend on it" in (
        quiet.root_cause.reason
    )
    assert "(CRM application and Reporting)" in quiet.root_cause.reason
    confirmed = records[-1].root_cause
    assert confirmed is not None and not confirmed.silent
    assert "explains both other alerting components" in confirmed.reason
    for record in records:
        text = " ".join(c.reason for c in record.candidates)
        assert "1 components" not in text and "of the 1 other" not in text
        assert "only no " not in text and "only 0 " not in text


def test_terminal_text_tells_a_risk_from_an_outage(org: Topology) -> None:
    names = display_names(org)
    risk = _run(org, alert("w", "crm-db", 0 * M, severity="warning"))[-1]
    text = describe_update(risk, names=names)
    assert "2026-11-22 05:00 UTC  NEW INCIDENT" in text
    assert "Who is at risk: 200 people" in text and "they can still work" in text
    assert "Services at risk: CRM" in text and "unavailable" not in text
    assert "nobody has lost time yet" in text and "lost productivity" not in text
    assert f"{risk.cost.at_risk_per_hour:,.0f} USD/hour if it becomes an outage" in text

    outage = _run(org, alert("c", "crm-db", 0 * M))[-1]
    text = describe_update(outage, names=names)
    assert "Who is affected: 200 people" in text
    assert "Services unavailable: CRM" in text
    assert "lost productivity" in text and "UTC (in " in text


def test_demo_story_reads_right(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo() == 0
    out = capsys.readouterr().out
    assert "1 re-send absorbed" in out and "1 re-sends" not in out
    assert "times in UTC" in out and "2026-11-22" in out
    assert "05:00:00 UTC  alert FIRING" in out
    assert "Next update to users due 05:30 UTC" in out
    # The disk warning is a risk throughout: worded, priced and ranked as one.
    nas = [block for block in out.split("\n\n") if "Dallas file server warning" in block]
    assert nas
    for block in nas:
        assert "Services at risk" in block and "unavailable" not in block
        assert "impact 1" not in block and "lost productivity" not in block
    assert "explains both other alerting components (CRM web server 1 and CRM web server 2)" in out
    assert "Services unavailable for the Dallas office: CRM" in out  # the WAN outage


def test_the_desk_takes_the_engines_verdict(org: Topology) -> None:
    """A warning that cleared (hold-down running) is still a risk, not an outage: the desk's
    head counts and costs read the record's own `at_risk` rather than guessing from alerts."""
    records = _run(
        org,
        alert("w", "crm-db", 0 * M, severity="warning"),
        alert("w", "crm-db", 5 * M, status="resolved", severity="warning"),
    )
    last = records[-1]
    assert last.status == "open" and last.alerts_firing == 0 and last.at_risk
    assert DeskRecord.model_validate_json(last.to_json()).at_risk
    older = orjson.loads(last.to_json())
    del older["at_risk"]  # a record from before the flag: the desk's own reading applies
    assert not DeskRecord.model_validate(older).at_risk
