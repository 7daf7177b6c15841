"""Dedup: tell a re-send from news.

Alertmanager re-sends every firing alert on its repeat interval, and a webhook carries every
alert of its group each time. Only a change of state is news: a first firing, a resolve, a firing
after a resolve (a new occurrence), or a change of severity. Everything else refreshes
`last_seen` and publishes nothing.
"""

from __future__ import annotations

from enum import Enum

from correlator.core.model import Alert, AlertPhase
from correlator.core.state import AlertState


class Verdict(Enum):
    NEW = "new"
    """never seen, or seen and forgotten: goes through mapping and grouping"""
    REFIRED = "refired"
    """known and resolved, now firing again: a new occurrence"""
    RESOLVED = "resolved"
    RESEND = "resend"
    """nothing a desk would care about"""
    SEVERITY_CHANGED = "severity_changed"
    STALE = "stale"
    """older than what we know (out of order), or a resolve of an alert we never saw firing"""


def classify(known: AlertState | None, alert: Alert) -> Verdict:
    if known is None:
        return Verdict.NEW if alert.status == "firing" else Verdict.STALE
    if alert.status == "firing":
        if known.status == AlertPhase.FIRING:
            if alert.severity != known.severity:
                return Verdict.SEVERITY_CHANGED
            return Verdict.RESEND
        # Known and resolved: a firing that started before the resolve is an old re-send
        # delivered late, not a new occurrence.
        if known.ends_at is not None and alert.starts_at <= known.ends_at:
            return Verdict.STALE
        return Verdict.REFIRED
    if known.status == AlertPhase.RESOLVED:
        return Verdict.STALE if not _ends_later(alert, known) else Verdict.RESEND
    if alert.ends_at is not None and alert.ends_at < known.starts_at:
        return Verdict.STALE
    return Verdict.RESOLVED


def _ends_later(alert: Alert, known: AlertState) -> bool:
    return alert.ends_at is not None and known.ends_at is not None and alert.ends_at > known.ends_at
