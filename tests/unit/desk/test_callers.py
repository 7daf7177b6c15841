"""Is this caller affected? Directory lookup, matching by group, the sentence to read out."""

from __future__ import annotations

from correlator.core.model import IncidentRecord
from correlator.desk.callers import affecting, find_caller, say
from correlator.desk.view import DeskView
from tests.unit.desk.conftest import at, by_title
from topology import Topology


def test_found_by_id_or_email_with_site(topology: Topology) -> None:
    alice = find_caller(topology, "alice")
    assert alice is not None and alice.site == "dallas" and alice.site_name == "Dallas office"
    by_mail = find_caller(topology, "Alice@Example.com")
    assert by_mail == alice
    assert find_caller(topology, "nobody@example.com") is None
    assert find_caller(topology, "mallory") is None


def test_the_wan_outage_affects_dallas_not_new_york(
    view: DeskView, records: list[IncidentRecord], topology: Topology
) -> None:
    alice, dave = find_caller(topology, "alice"), find_caller(topology, "dave")
    assert alice is not None and dave is not None
    wan = by_title(records, "WAN")
    assert wan.id in {r.id for r in affecting(alice, view.records())}
    # Dave in New York uses the CRM too, but the WAN outage does not reach him.
    assert affecting(dave, view.records()) == []


def test_say_names_what_since_when_who_and_next_update(
    view: DeskView, records: list[IncidentRecord], topology: Topology
) -> None:
    alice = find_caller(topology, "alice")
    assert alice is not None
    wan = view.get(by_title(records, "WAN").id)
    assert wan is not None and wan.next_update_at is not None
    now = at("2026-11-22T05:09:00Z")
    sentence = say(wan, alice, topology, now)
    assert sentence.startswith("Dallas - New York WAN circuit has been down since 05:0")
    assert "UTC" in sentence and "CRM" in sentence
    assert "Network operations is working on it" in sentence
    assert "the next update is due at 05:30 UTC, in 21 minutes" in sentence
    late = say(wan, alice, topology, at("2026-11-22T06:10:00Z"))
    assert "was due at 05:30 UTC and is late" in late
    files = view.get(by_title(records, "file server").id)
    assert files is not None
    risky = say(files, alice, topology, now)
    assert "degraded" in risky and "at risk" in risky
