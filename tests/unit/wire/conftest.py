"""Real incident records from the engine: one incident opened, updated and resolved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from correlator.core.engine import Correlator
from correlator.core.model import IncidentRecord
from correlator.core.settings import EngineSettings
from correlator.wire.render.record import build_record
from tests.unit.engine.conftest import ORG, T0, alert
from topology import load_topology


@pytest.fixture(scope="session")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> list[IncidentRecord]:
    path = tmp_path_factory.mktemp("org") / "org.yaml"
    path.write_text(ORG)
    engine = Correlator(load_topology(path), EngineSettings(), render=build_record)
    s = timedelta(seconds=1)
    records: list[IncidentRecord] = []
    for a in (
        alert("a1", "crm-db", 0 * s),
        alert("a2", "crm-app", 20 * s, severity="warning"),
        alert("a1", "crm-db", 300 * s, status="resolved"),
        alert("a2", "crm-app", 310 * s, status="resolved"),
    ):
        records.extend(u.record for u in engine.ingest(a, a.event_time))
    records.extend(u.record for u in engine.tick(T0 + timedelta(hours=1)))
    assert {r.status for r in records} >= {"open", "resolved"}
    assert len({r.id for r in records}) == 1
    return records


@pytest.fixture
def opened(lifecycle: list[IncidentRecord]) -> IncidentRecord:
    return lifecycle[0]


@pytest.fixture
def resolved(lifecycle: list[IncidentRecord]) -> IncidentRecord:
    return lifecycle[-1]


def with_changes(record: IncidentRecord, **changes: object) -> IncidentRecord:
    """A validated copy (model_copy would skip validation of the changed fields)."""
    data = record.model_dump(by_alias=True)
    data.update(changes)
    return IncidentRecord.model_validate(data)
