from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from correlator.core.model import Alert
from correlator.wire.decode import DecodeError, decode
from tests.unit.sources._support import RECEIVED, assert_well_typed, load


def _decode(obj: object) -> list[Alert]:
    return decode(orjson.dumps(obj), received_at=RECEIVED)


def test_firing() -> None:
    (alert,) = decode(load("native_firing.json"), received_at=RECEIVED)
    assert_well_typed(alert)
    assert alert == Alert(
        fingerprint="disk-db1",
        name="DiskFull",
        status="firing",
        severity="critical",
        summary="/var at 99%",
        source="nagios",
        format="native",
        labels={},
        annotations={},
        starts_at=datetime(2026, 11, 22, 5, 0, tzinfo=UTC),
        ends_at=None,
        generator_url=None,
        node="crm-db",
    )


def test_resolved_uses_timestamp_as_end_and_starts_at_as_start() -> None:
    (alert,) = decode(load("native_resolved.json"), received_at=RECEIVED)
    assert_well_typed(alert)
    assert alert.status == "resolved"
    assert alert.starts_at == datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    assert alert.ends_at == datetime(2026, 11, 22, 5, 30, tzinfo=UTC)
    assert alert.labels == {"mount": "/var"}


def test_resolved_without_starts_at_starts_at_its_timestamp() -> None:
    (alert,) = _decode({"name": "n", "status": "resolved", "timestamp": "2026-11-22T05:30:00Z"})
    assert alert.starts_at == alert.ends_at == datetime(2026, 11, 22, 5, 30, tzinfo=UTC)


def test_minimal_event_defaults() -> None:
    (alert,) = _decode({"name": "Ping", "status": "firing", "source": "smokeping"})
    assert_well_typed(alert)
    assert alert.starts_at == RECEIVED  # no timestamp
    assert alert.summary == "Ping"
    assert alert.severity == "warning"
    assert alert.node is None
    (again,) = _decode({"name": "Ping", "status": "firing", "source": "smokeping"})
    (other,) = _decode({"name": "Ping", "status": "firing", "source": "smokeping", "node": "x"})
    assert alert.fingerprint == again.fingerprint != other.fingerprint


def test_epoch_seconds_timestamp() -> None:
    (alert,) = _decode({"name": "n", "status": "firing", "timestamp": 1795323600})
    assert alert.starts_at == datetime(2026, 11, 22, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (
            {"name": "n", "status": "ok", "source": "s"},
            "status: expected 'firing' or 'resolved', got 'ok'",
        ),
        (
            {"name": "n", "source": "s", "timestamp": "2026-11-22T05:00:00Z"},
            "status: expected 'firing' or 'resolved' (missing)",
        ),
        ({"status": "firing", "source": "s"}, "name: a native event needs a name"),
        (
            {"name": "n", "status": "firing", "source": "s", "labels": {"a": {"b": 1}}},
            "labels.a: label values must be strings",
        ),
        (
            {"name": "n", "status": "firing", "source": "s", "labels": ["a"]},
            "labels: expected an object of labels, got an array",
        ),
        (
            {"name": "n", "status": "firing", "source": "s", "node": {"id": 1}},
            "node: expected a string, got an object",
        ),
        (
            {
                "name": "n",
                "status": "resolved",
                "source": "s",
                "timestamp": "2026-11-22T05:00:00Z",
                "starts_at": "2026-11-22T06:00:00Z",
            },
            "starts_at: the event starts (2026-11-22T06:00:00+00:00) after it ends",
        ),
    ],
)
def test_invalid_events(event: object, words: str) -> None:
    with pytest.raises(DecodeError) as info:
        _decode(event)
    assert info.value.code == "invalid_field"
    assert words in info.value.reason


def test_bad_timestamp_names_field() -> None:
    with pytest.raises(DecodeError) as info:
        _decode({"name": "n", "status": "firing", "source": "s", "timestamp": "22/11/2026 05:00"})
    assert info.value.code == "bad_timestamp"
    assert info.value.reason.startswith("bad timestamp in timestamp: '22/11/2026 05:00'")
