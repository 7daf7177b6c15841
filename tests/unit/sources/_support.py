"""Shared helpers for the decoder tests: fixtures on disk, a fixed clock, a type check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from correlator.core.model import Alert

FIXTURES = Path(__file__).parent / "fixtures"

#: The moment every test "receives" its message (the Kafka record time, in the worker).
RECEIVED = datetime(2026, 11, 22, 6, 0, 0, tzinfo=UTC)


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def assert_well_typed(alert: Alert) -> None:
    """Every field typed as the model says: a dump re-validates to the same Alert, times are UTC."""
    again = Alert.model_validate(alert.model_dump())
    assert again == alert
    assert alert.starts_at.tzinfo is UTC
    assert alert.ends_at is None or alert.ends_at.tzinfo is UTC
    assert alert.status in ("firing", "resolved")
    if alert.status == "firing":
        assert alert.ends_at is None
    else:
        assert alert.ends_at is not None
        assert alert.starts_at <= alert.ends_at
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.labels.items())
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.annotations.items())
