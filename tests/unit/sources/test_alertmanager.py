from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from correlator.core.model import Alert
from correlator.wire.decode import DecodeError, decode
from correlator.wire.decode._common import labels_fingerprint
from tests.unit.sources._support import RECEIVED, assert_well_typed, load


def _one(obj: object) -> list[Alert]:
    return decode(orjson.dumps(obj), received_at=RECEIVED)


def test_firing_webhook_yields_one_alert_per_element() -> None:
    alerts = decode(load("alertmanager_firing.json"), received_at=RECEIVED)
    assert [a.labels["instance"] for a in alerts] == [
        "crm-web-1.example.com:9100",
        "crm-web-2.example.com:9100",
        "crm-db.example.com:9100",
    ]
    first, second, third = alerts
    for a in alerts:
        assert_well_typed(a)
        assert a.status == "firing"
        assert a.ends_at is None  # "0001-01-01T00:00:00Z" means none
        assert a.name == "InstanceDown"
        assert a.severity == "critical"
        assert a.source == "alertmanager"
        assert a.format == "alertmanager-webhook"
        assert a.node is None
    # nanoseconds truncated to microseconds
    assert first.starts_at == datetime(2026, 11, 22, 5, 0, 0, 123456, tzinfo=UTC)
    assert first.fingerprint == "4d2c1a6f1e0b3a77"
    assert first.summary == "crm-web-1.example.com:9100 is down"
    assert first.annotations["runbook_url"] == "https://runbooks.example.com/InstanceDown"
    assert first.generator_url is not None and "up+%3D%3D+0&g0.tab=1" in first.generator_url
    # offsets are converted to UTC
    assert second.starts_at == datetime(2026, 11, 22, 5, 0, 30, 500000, tzinfo=UTC)
    # summary falls back to description, then to the name
    assert second.summary.startswith("crm-web-2.example.com:9100 of job node")
    assert third.summary == "InstanceDown"


def test_truncated_webhook_decodes_what_it_carries() -> None:
    alerts = decode(load("alertmanager_truncated.json"), received_at=RECEIVED)
    assert [a.fingerprint for a in alerts] == ["c0ffee0000000001", "c0ffee0000000002"]
    assert alerts[0].starts_at == datetime(2026, 11, 22, 5, 1, tzinfo=UTC)
    assert {a.severity for a in alerts} == {"warning"}


def test_resolved_webhook_carries_its_end() -> None:
    (alert,) = decode(load("alertmanager_resolved.json"), received_at=RECEIVED)
    assert_well_typed(alert)
    assert alert.status == "resolved"
    assert alert.fingerprint == "4d2c1a6f1e0b3a77"
    assert alert.ends_at == datetime(2026, 11, 22, 5, 20, 0, 987654, tzinfo=UTC)
    assert alert.event_time == alert.ends_at


def test_grafana_webhook() -> None:
    firing, resolved = decode(load("grafana.json"), received_at=RECEIVED)
    for a in (firing, resolved):
        assert_well_typed(a)
        assert a.source == "grafana"
        assert a.format == "alertmanager-webhook"
        assert a.severity == "warning"  # no severity label: the default
    assert firing.name == "High memory usage"
    assert firing.fingerprint == "c6eadffa33fcdf37"
    assert firing.starts_at == datetime(2026, 11, 22, 4, 51, 3, 157076, tzinfo=UTC)
    assert firing.summary == "This alert was triggered for zone us-1"
    assert resolved.status == "resolved"
    assert resolved.ends_at == datetime(2026, 11, 22, 5, 6, 3, 157076, tzinfo=UTC)
    assert resolved.summary == "The system has high CPU usage"


def test_grafana_alert_without_org_id_is_still_grafana() -> None:
    (alert,) = _one({"labels": {"alertname": "x"}, "status": "firing", "silenceURL": "https://g/x"})
    assert alert.source == "grafana"
    assert alert.format == "alertmanager-alert"


def test_newer_version_with_unknown_fields_and_numeric_values() -> None:
    (alert,) = decode(load("alertmanager_newer.json"), received_at=RECEIVED)
    assert_well_typed(alert)
    assert alert.status == "firing"  # "Firing": status is case-insensitive
    assert alert.labels["replica"] == "2"  # numbers are taken as text
    assert alert.annotations["predicted_hours"] == "3.5"
    assert alert.starts_at == datetime(2026, 11, 22, 5, 0, 0, 500000, tzinfo=UTC)


def test_single_alert_without_status_uses_ends_at_against_received_at() -> None:
    # endsAt (05:04) is before received_at (06:00): Alertmanager would call it resolved.
    (alert,) = decode(load("alertmanager_alert.json"), received_at=RECEIVED)
    assert_well_typed(alert)
    assert alert.format == "alertmanager-alert"
    assert alert.status == "resolved"
    assert alert.ends_at == datetime(2026, 11, 22, 5, 4, tzinfo=UTC)
    assert alert.severity == "error"
    assert alert.name == "TargetDown"
    # no fingerprint sent: Alertmanager's own fingerprint of the label set
    assert alert.fingerprint == labels_fingerprint(dict(alert.labels))

    early = RECEIVED - timedelta(hours=1, minutes=58)  # 04:02, before endsAt: still firing
    (alert,) = decode(load("alertmanager_alert.json"), received_at=early)
    assert alert.status == "firing"
    assert alert.ends_at is None  # a firing alert's endsAt is an expiry, not an end


def test_single_alert_minimal_shape_defaults() -> None:
    (alert,) = _one({"labels": {"job": "x"}, "status": "firing"})
    assert_well_typed(alert)
    assert alert.name == "alert"
    assert alert.starts_at == RECEIVED  # no startsAt
    assert alert.summary == "alert"
    assert alert.generator_url is None


def test_resolved_without_ends_at_ends_when_received() -> None:
    (alert,) = _one(
        {"labels": {"alertname": "x"}, "status": "resolved", "startsAt": "2026-11-22T05:00:00Z"}
    )
    assert alert.ends_at == RECEIVED


def test_null_label_is_dropped_and_bool_is_text() -> None:
    (alert,) = _one({"labels": {"alertname": "x", "gone": None, "page": True}, "status": "firing"})
    assert alert.labels == {"alertname": "x", "page": "true"}


def test_fingerprint_is_stable_across_label_order() -> None:
    a = _one({"labels": {"alertname": "x", "job": "j"}, "status": "firing"})[0]
    b = _one({"status": "firing", "labels": {"job": "j", "alertname": "x"}})[0]
    c = _one({"status": "firing", "labels": {"job": "k", "alertname": "x"}})[0]
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_prometheus_fingerprint_vector() -> None:
    # prometheus/common model/signature_test.go TestMetricToFingerprint
    labels = {"name": "garland, briggs", "fear": "love is not enough"}
    assert labels_fingerprint(labels) == f"{5799056148416392346:016x}"
    assert labels_fingerprint({}) == f"{14695981039346656037:016x}"


def test_empty_webhook_yields_nothing() -> None:
    assert _one({"version": "4", "alerts": []}) == []


def test_webhook_without_version_is_accepted() -> None:
    (alert,) = _one({"alerts": [{"labels": {"alertname": "x"}, "status": "firing"}]})
    assert alert.format == "alertmanager-webhook"


@pytest.mark.parametrize(
    ("message", "code", "words"),
    [
        (
            {"version": "4", "alerts": [{"labels": {"a": "b"}}, {"labels": {"x": {"y": 1}}}]},
            "invalid_field",
            "alerts[1].labels.x: label values must be strings, got an object",
        ),
        (
            {"version": "4", "alerts": [{"labels": {"a": "b"}, "annotations": {"n": [1]}}]},
            "invalid_field",
            "alerts[0].annotations.n: annotation values must be strings, got an array",
        ),
        (
            {"version": "4", "alerts": [{"annotations": {}}]},
            "invalid_field",
            "alerts[0].labels",
        ),
        (
            {"version": "4", "alerts": ["nope"]},
            "invalid_field",
            "alerts[0]: expected an alert object, got a string",
        ),
        (
            {"version": "4", "alerts": {"a": 1}},
            "invalid_field",
            "alerts: expected an array of alerts, got an object",
        ),
        (
            {"version": "4", "alerts": [{"labels": {}, "status": "pending"}]},
            "invalid_field",
            "alerts[0].status: expected 'firing' or 'resolved', got 'pending'",
        ),
        (
            {"version": "4", "alerts": [{"labels": {}, "fingerprint": 12}]},
            "invalid_field",
            "alerts[0].fingerprint",
        ),
        (
            {
                "labels": {"a": "b"},
                "status": "resolved",
                "startsAt": "2026-11-22T05:00:00Z",
                "endsAt": "2026-11-22T04:00:00Z",
            },
            "invalid_field",
            "endsAt: the alert ends (2026-11-22T04:00:00+00:00) before it starts",
        ),
        (
            {
                "version": "4",
                "alerts": [{"labels": {}}, {"labels": {}}, {"labels": {}, "startsAt": "yesterday"}],
            },
            "bad_timestamp",
            "bad timestamp in alerts[2].startsAt: 'yesterday'",
        ),
        (
            {"labels": {"a": "b"}, "endsAt": "2026-13-01T00:00:00Z"},
            "bad_timestamp",
            "bad timestamp in endsAt: '2026-13-01T00:00:00Z' (month must be in 1..12)",
        ),
    ],
)
def test_errors_name_the_field(message: object, code: str, words: str) -> None:
    with pytest.raises(DecodeError) as info:
        _one(message)
    assert info.value.code == code
    assert words in info.value.reason
