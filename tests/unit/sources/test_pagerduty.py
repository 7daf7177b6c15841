from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from correlator.core.model import Alert
from correlator.wire.decode import DecodeError, decode
from tests.unit.sources._support import RECEIVED, assert_well_typed, load


def _decode(obj: object) -> list[Alert]:
    return decode(orjson.dumps(obj), received_at=RECEIVED)


def test_trigger() -> None:
    (alert,) = decode(load("pagerduty_trigger.json"), received_at=RECEIVED)
    assert_well_typed(alert)
    assert alert.status == "firing"
    assert alert.format == "pagerduty-v2"
    assert alert.source == "pagerduty"
    assert alert.fingerprint == "samplekeyhere"
    assert alert.name == "disk"  # payload.class first
    assert alert.severity == "critical"
    assert alert.summary == "DISK at 99% on machine prod-datapipe03.example.com"
    assert alert.starts_at == datetime(2026, 11, 22, 5, 2, 58, 315000, tzinfo=UTC)
    assert alert.generator_url == "https://monitoring.example.com"
    assert alert.labels == {
        "host": "prod-datapipe03.example.com",  # not overwritten by custom_details.host
        "component": "mysql",
        "group": "prod-datapipe",
        "class": "disk",
        "free space": "1%",
        "ping time": "1500ms",
        "load avg": "0.75",
        "replicated": "true",
    }
    assert "samplekeyhere0123456789abcdef012" not in orjson.dumps(alert.model_dump()).decode()


def test_resolve_has_no_payload_and_ends_when_received() -> None:
    (alert,) = decode(load("pagerduty_resolve.json"), received_at=RECEIVED)
    assert_well_typed(alert)
    assert alert.status == "resolved"
    assert alert.fingerprint == "samplekeyhere"
    assert alert.starts_at == alert.ends_at == RECEIVED
    assert alert.name == "pagerduty-event"


def test_acknowledge_is_not_a_state_change() -> None:
    assert decode(load("pagerduty_acknowledge.json"), received_at=RECEIVED) == []


def test_trigger_without_dedup_key_gets_a_stable_fingerprint() -> None:
    event = {
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "h", "severity": "warning", "component": "c"},
    }
    (a,) = _decode(event)
    (b,) = _decode(event)
    (c,) = _decode({**event, "payload": {**event["payload"], "summary": "other"}})  # type: ignore[dict-item]
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a.fingerprint) == 16
    assert a.name == "c"  # no class: the component
    assert a.starts_at == RECEIVED  # no timestamp


def test_event_action_is_case_insensitive_and_severity_normalised() -> None:
    (alert,) = _decode(
        {"event_action": "TRIGGER", "payload": {"summary": "s", "source": "h", "severity": "info"}}
    )
    assert alert.severity == "info"
    assert alert.name == "pagerduty-event"


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (
            {"event_action": "explode"},
            "event_action: expected 'trigger', 'acknowledge' or 'resolve', got 'explode'",
        ),
        ({"event_action": "trigger"}, "payload: a trigger needs a payload object (missing)"),
        (
            {"event_action": "trigger", "payload": "x"},
            "payload: a trigger needs a payload object (got a string)",
        ),
        (
            {"event_action": "trigger", "payload": {"source": "h"}},
            "payload.summary: a trigger needs a summary",
        ),
        ({"event_action": "resolve"}, "dedup_key: a resolve needs the dedup_key"),
        (
            {"event_action": "trigger", "dedup_key": {}, "payload": {"summary": "s"}},
            "dedup_key: expected a string, got an object",
        ),
        (
            {"event_action": "trigger", "payload": {"summary": "s", "component": ["a"]}},
            "payload.component: expected a string, got an array",
        ),
    ],
)
def test_invalid_events(event: object, words: str) -> None:
    with pytest.raises(DecodeError) as info:
        _decode(event)
    assert info.value.code == "invalid_field"
    assert words in info.value.reason


def test_bad_payload_timestamp() -> None:
    with pytest.raises(DecodeError) as info:
        _decode({"event_action": "trigger", "payload": {"summary": "s", "timestamp": "soon"}})
    assert info.value.code == "bad_timestamp"
    assert info.value.reason.startswith("bad timestamp in payload.timestamp: 'soon'")
