from __future__ import annotations

from datetime import timedelta

from correlator.core.model import AlertPhase
from correlator.rules.dedup import Verdict, classify
from tests.unit.engine.conftest import alert
from tests.unit.rules.conftest import state

M = timedelta(minutes=1)


def test_first_firing_is_new_and_a_resolve_never_seen_firing_is_stale() -> None:
    assert classify(None, alert("fp", None, 0 * M)) is Verdict.NEW
    assert classify(None, alert("fp", None, 5 * M, status="resolved", started=0 * M)) is (
        Verdict.STALE
    )


def test_resend_of_a_firing_alert_is_not_news_unless_its_severity_changed() -> None:
    known = state(severity="critical")
    assert classify(known, alert("fp", None, 0 * M, severity="critical")) is Verdict.RESEND
    assert classify(known, alert("fp", None, 0 * M, severity="warning")) is (
        Verdict.SEVERITY_CHANGED
    )


def test_resolve_of_a_firing_alert_is_news_unless_it_ended_before_it_started() -> None:
    known = state(starts=10 * M)
    assert classify(known, alert("fp", None, 12 * M, status="resolved", started=10 * M)) is (
        Verdict.RESOLVED
    )
    assert classify(known, alert("fp", None, 5 * M, status="resolved", started=1 * M)) is (
        Verdict.STALE
    )


def test_firing_after_a_resolve_is_a_new_occurrence_but_a_late_resend_is_stale() -> None:
    known = state(status=AlertPhase.RESOLVED, starts=0 * M, ends=10 * M)
    assert classify(known, alert("fp", None, 11 * M)) is Verdict.REFIRED
    assert classify(known, alert("fp", None, 9 * M)) is Verdict.STALE


def test_resolve_of_a_resolved_alert_is_a_resend_only_when_it_ends_later() -> None:
    known = state(status=AlertPhase.RESOLVED, starts=0 * M, ends=10 * M)
    later = alert("fp", None, 12 * M, status="resolved", started=0 * M)
    same = alert("fp", None, 10 * M, status="resolved", started=0 * M)
    assert classify(known, later) is Verdict.RESEND
    assert classify(known, same) is Verdict.STALE
