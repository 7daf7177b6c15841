"""The rules are tested one at a time on the hand-checkable organisation of the engine tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from correlator.core.model import AlertPhase
from correlator.core.state import AlertState
from tests.unit.engine.conftest import ORG, T0, engine
from topology import Topology, load_topology


@pytest.fixture
def org(tmp_path: Path) -> Topology:
    path = tmp_path / "org.yaml"
    path.write_text(ORG)
    return load_topology(path)


def state(
    fingerprint: str = "fp",
    node: str | None = None,
    *,
    status: AlertPhase = AlertPhase.FIRING,
    severity: str = "critical",
    starts: timedelta = timedelta(0),
    ends: timedelta | None = None,
    name: str = "Down",
    labels: dict[str, str] | None = None,
) -> AlertState:
    """What the engine would hold for an alert, built directly."""
    started: datetime = T0 + starts
    return AlertState(
        fingerprint=fingerprint,
        name=name,
        node=node,
        severity=severity,
        status=status,
        starts_at=started,
        ends_at=T0 + ends if ends is not None else None,
        summary="",
        source="test",
        labels=dict(labels or {}),
        last_seen=started,
    )


__all__ = ["engine", "org", "state"]
