"""Flapping: an alert that changes state more than `max_flips` times within `window`.

While flapping, the alert counts as active: its resolves do not start the incident's hold-down
and its re-fires publish nothing. It settles once it has not flipped for a whole window.
"""

from __future__ import annotations

from datetime import datetime

from correlator.core.settings import FlappingSettings
from correlator.core.state import AlertState


def record_flip(alert: AlertState, now: datetime, settings: FlappingSettings) -> bool:
    """Note a state change; True when this change made the alert start flapping."""
    horizon = now - settings.window
    alert.flips = [f for f in alert.flips if f > horizon]
    alert.flips.append(now)
    if not alert.flapping and len(alert.flips) > settings.max_flips:
        alert.flapping = True
        return True
    return False


def settles(alert: AlertState, now: datetime, settings: FlappingSettings) -> bool:
    """True when a flapping alert has been stable for a whole window."""
    return alert.flapping and (not alert.flips or alert.flips[-1] + settings.window <= now)


def settle_deadline(alert: AlertState, settings: FlappingSettings) -> datetime | None:
    if not alert.flapping or not alert.flips:
        return None
    return alert.flips[-1] + settings.window
