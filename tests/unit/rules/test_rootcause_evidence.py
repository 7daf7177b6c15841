"""Evidence for a silent cause: what it would break must be largely alerting, at about the same
time; the reason names the evidence; confidences are calibrated and sum to at most 1."""

from __future__ import annotations

from datetime import timedelta

from correlator.core.engine import Correlator
from correlator.rules.evidence import ONSET_WINDOW, Evidence
from tests.unit.engine.conftest import alert, feed, latest

S = timedelta(seconds=1)
M = timedelta(minutes=1)


def test_evidence_in_numbers_and_words() -> None:
    hub = Evidence(expected=31, alerting=2)
    assert hub.coverage == 2 / 31
    assert hub.healthy == 29
    assert not hub.credible_silent(0.4)
    assert hub.describe() == "its failure would break 31 monitored components, of which 2 alert"
    assert Evidence(expected=4, alerting=3).credible_silent(0.4)
    assert not Evidence(expected=4, alerting=1).credible_silent(0.1), "one alert is no pattern"
    late = Evidence(expected=4, alerting=3, onset_spread=ONSET_WINDOW + M)
    assert not late.credible_silent(0.4)
    assert "started 6 minutes apart" in late.describe()


def test_quiet_hub_with_mostly_healthy_dependents_does_not_glue_faults(engine: Correlator) -> None:
    # The NYC core switch would break 8 monitored components; 3 alert (both CRM web servers and
    # the mail server): two faults (the web pool, the mail server), not a switch failure.
    records = feed(
        engine,
        alert("w1", "crm-web-1", 0 * S),
        alert("m1", "mail-server", 10 * S),
        alert("w2", "crm-web-2", 20 * S),
    )
    final = latest(records)
    groups = sorted(sorted(a.fingerprint for a in r.alerts) for r in final.values())
    assert groups == [["m1"], ["w1", "w2"]]
    web = next(r for r in final.values() if len(r.alerts) == 2)
    assert web.root_cause.node != "nyc-core"
    assert "NYC core switch" in web.root_cause.reason
    assert "of which 2 alert: not a credible common cause" in web.root_cause.reason


def test_alerts_far_apart_in_time_are_not_one_silent_failure(engine: Correlator) -> None:
    records = feed(engine, alert("a1", "crm-app", 0 * S), alert("a2", "reporting-app", 10 * M))
    final = latest(records)
    assert len(final) == 2


def test_silent_root_reason_names_the_evidence(engine: Correlator) -> None:
    records = feed(engine, alert("a1", "crm-app", 0 * S), alert("a2", "reporting-app", 20 * S))
    (record,) = latest(records).values()
    root = record.root_cause
    assert root.node == "crm-db" and root.silent
    assert "its failure would break 2 monitored components, of which 2 alert" in root.reason


def test_confidences_sum_to_at_most_one_and_carry_words(engine: Correlator) -> None:
    records = feed(
        engine,
        alert("a1", "crm-app", 0 * S),
        alert("a2", "reporting-app", 10 * S),
        alert("w1", "crm-web-1", 15 * S),
        alert("a3", "crm-db", 30 * S),
    )
    for record in records:
        root = record.root_cause
        total = root.confidence + sum(c.confidence for c in root.candidates)
        assert total <= 1.0 + 1e-9
        assert root.confidence_label in {"likely", "probable", "possible"}
        for c in root.candidates:
            assert c.confidence <= root.confidence
