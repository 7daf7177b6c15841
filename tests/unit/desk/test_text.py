"""Text a desk can trust: a risk is worded as a risk, services are down for someone."""

from __future__ import annotations

from correlator.core.model import IncidentRecord
from correlator.wire.render.text import describe_impact
from tests.unit.desk.conftest import by_title
from topology import Topology


def test_a_warning_is_at_risk_and_services_say_for_whom(records: list[IncidentRecord]) -> None:
    files = by_title(records, "file server")
    assert "Services at risk for the Dallas office:" in files.summary
    assert "unavailable" not in files.summary
    assert "at risk (they can still work)" in files.summary
    wan = by_title(records, "WAN")
    assert "Services unavailable for the Dallas office: CRM" in wan.summary


def test_impact_text_has_no_question_marks_and_plural_agrees(topology: Topology) -> None:
    assert topology.nodes["remote-staff"].site is None
    found = topology.impact(["remote-staff"])
    text = describe_impact(topology, ["remote-staff"], found, [])
    assert "in 1 group\n" in text
    assert "Remote and travelling staff (remote-staff): " in text
    assert " at ?" not in text
