"""`decode` and `detect`: size limit, JSON, detection, the error type, timestamps."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from correlator.wire.decode import CODES, FORMATS, DecodeError, decode, decode_object, detect
from correlator.wire.decode._common import parse_time
from tests.unit.sources._support import RECEIVED, load


@pytest.mark.parametrize(
    ("fixture", "fmt"),
    [
        ("alertmanager_firing.json", "alertmanager-webhook"),
        ("alertmanager_truncated.json", "alertmanager-webhook"),
        ("alertmanager_resolved.json", "alertmanager-webhook"),
        ("alertmanager_newer.json", "alertmanager-webhook"),
        ("grafana.json", "alertmanager-webhook"),
        ("alertmanager_alert.json", "alertmanager-alert"),
        ("pagerduty_trigger.json", "pagerduty-v2"),
        ("pagerduty_resolve.json", "pagerduty-v2"),
        ("pagerduty_acknowledge.json", "pagerduty-v2"),
        ("native_firing.json", "native"),
        ("native_resolved.json", "native"),
    ],
)
def test_detect_fixtures(fixture: str, fmt: str) -> None:
    assert detect(orjson.loads(load(fixture))) == fmt
    assert fmt in FORMATS
    for alert in decode(load(fixture), received_at=RECEIVED):
        assert alert.format == fmt


def test_detect_prefers_native_when_native_keys_are_present() -> None:
    # labels + status + fingerprint look like an alert object, but node/source say native
    event = orjson.loads(load("native_firing.json"))
    assert "labels" in event and "status" in event and "fingerprint" in event
    assert detect(event) == "native"


def test_str_input_is_accepted() -> None:
    (alert,) = decode(load("native_firing.json").decode(), received_at=RECEIVED)
    assert alert.name == "DiskFull"


def test_naive_received_at_is_taken_as_utc() -> None:
    naive = datetime(2026, 11, 22, 6, 0)
    (alert,) = decode(b'{"name": "n", "status": "firing", "source": "s"}', received_at=naive)
    assert alert.starts_at == RECEIVED
    assert alert.starts_at.tzinfo is UTC


def test_decode_object() -> None:
    (alert,) = decode_object(orjson.loads(load("native_firing.json")), received_at=RECEIVED)
    assert alert.node == "crm-db"


def _error(raw: bytes | str, **kwargs: int) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(raw, received_at=RECEIVED, **kwargs)
    assert info.value.code in CODES
    return info.value


def test_not_json() -> None:
    err = _error(b"{nope")
    assert err.code == "not_json"
    assert err.reason.startswith("not JSON: ")
    assert "at byte 1" in err.reason


def test_empty_message() -> None:
    err = _error(b"  \n")
    assert (err.code, err.reason) == ("not_json", "not JSON: the message is empty")


def test_invalid_utf8_is_not_json() -> None:
    assert _error(b'{"a": "\xff"}').code == "not_json"


def test_too_large() -> None:
    raw = b'{"pad": "' + b"x" * 2_411_724 + b'"}'
    err = _error(raw)
    assert err.code == "too_large"
    assert err.reason == "message is 2.3 MB, over the 1 MB limit"


def test_too_large_counts_utf8_bytes_of_str() -> None:
    text = '{"pad": "' + "é" * 600 + '"}'  # 611 characters, 1211 bytes
    err = _error(text, max_bytes=1000)
    assert err.code == "too_large"
    assert err.reason == "message is 1.2 KB, over the 1000 bytes limit"
    assert _error(text, max_bytes=1300).code == "unknown_shape"  # under the limit: parsed


@pytest.mark.parametrize(
    ("raw", "got"),
    [
        (b"[]", "got an array, not an object"),
        (b'"alerts"', "got a string, not an object"),
        (b"42", "got a number, not an object"),
        (b"null", "got null, not an object"),
        (b"{}", "got an empty object"),
        (b'{"hello": "world", "labels": {}}', "got an object with keys hello, labels"),
        (b'{"labels": {"a": "b"}, "status": "firing", "node": "x"}', "got an object with keys"),
    ],
)
def test_unknown_shape(raw: bytes, got: str) -> None:
    err = _error(raw)
    assert err.code == "unknown_shape"
    assert err.reason.startswith(
        "no recognisable shape: expected an Alertmanager webhook (version 4), an alert object "
        "with labels, a PagerDuty Events v2 event or a native event"
    )
    assert got in err.reason


def test_detect_raises_unknown_shape() -> None:
    with pytest.raises(DecodeError) as info:
        detect([{"alerts": []}])
    assert info.value.code == "unknown_shape"


def test_decode_error_carries_code_and_reason_and_pickles() -> None:
    err = DecodeError("bad_timestamp", "bad timestamp in startsAt: 'x'")
    assert str(err) == err.reason
    again = pickle.loads(pickle.dumps(err))
    assert (again.code, again.reason) == (err.code, err.reason)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T05:00:00Z", datetime(2026, 11, 22, 5, tzinfo=UTC)),
        ("2026-11-22T05:00:00.123456789Z", datetime(2026, 11, 22, 5, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-22T05:00:00.1234567890123Z", datetime(2026, 11, 22, 5, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-22t05:00:00.5z", datetime(2026, 11, 22, 5, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-22 05:00:00+00:00", datetime(2026, 11, 22, 5, tzinfo=UTC)),
        ("2026-11-22T07:30:00+02:30", datetime(2026, 11, 22, 5, tzinfo=UTC)),
        ("2026-11-22T00:00:00-05:00", datetime(2026, 11, 22, 5, tzinfo=UTC)),
        ("2026-11-22T05:00:00.315+0000", datetime(2026, 11, 22, 5, 0, 0, 315000, tzinfo=UTC)),
        ("2026-11-22T05:00:00", datetime(2026, 11, 22, 5, tzinfo=UTC)),  # naive: UTC
        ("0001-01-01T00:00:00Z", None),  # Go's zero time
        ("0001-01-01T00:00:00+00:00", None),
        ("0001-01-01T00:00:00.000Z", None),
        ("", None),
        (None, None),
        (1795323600, datetime(2026, 11, 22, 5, tzinfo=UTC)),
        (1795323600.5, datetime(2026, 11, 22, 5, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_time(text: object, expected: datetime | None) -> None:
    got = parse_time(text, "t")
    assert got == expected
    if got is not None:
        assert got.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "2026-11-22",
        "2026-W47-1T05:00:00",
        "20261122T050000Z",
        "2026-11-22T25:00:00Z",
        "2026-02-30T05:00:00Z",
        "2026-11-22T05:00:60Z",
        "2026-11-22T05:00:00+25:00",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59Z",  # beyond core.bounds: would overflow the engine's clock
        "1969-12-31T23:59:59Z",
        "0001-01-01T00:00:00+01:00",  # a year-0001 time that is not exactly Go's zero
        "0001-06-01T00:00:00Z",
        "0001-01-01T00:00:00.5Z",
        "2026-11-22T05:00:00Z ",
        "٢٠٢٦-11-22T05:00:00Z",
        True,
        [],
        {"t": 1},
        1_795_323_600_000,  # milliseconds, not seconds
    ],
)
def test_parse_time_rejects(text: object) -> None:
    with pytest.raises(DecodeError) as info:
        parse_time(text, "alerts[0].startsAt")
    assert info.value.code == "bad_timestamp"
    assert info.value.reason.startswith("bad timestamp in alerts[0].startsAt: ")


def test_parse_time_offset_object_is_fixed() -> None:
    got = parse_time("2026-11-22T06:00:00+01:00", "t")
    assert got == datetime(2026, 11, 22, 6, tzinfo=timezone(timedelta(hours=1)))


def test_the_alertmanager_api_v2_array_is_read_as_a_webhook() -> None:
    body = (
        b'[{"labels": {"alertname": "LinkDown", "topology_node": "wan-dallas-nyc"},'
        b' "startsAt": "2026-11-22T05:00:00Z"},'
        b' {"labels": {"alertname": "DiskFull", "host": "db1"}, "annotations": {}}]'
    )
    now = datetime(2026, 11, 22, 5, 1, tzinfo=UTC)
    alerts = decode(body, received_at=now)
    assert [a.name for a in alerts] == ["LinkDown", "DiskFull"]
    assert alerts[1].starts_at == now  # no startsAt: the arrival time
    for refused in (b"[]", b'[{"labels": {"a": "b"}}, 3]', b'[{"name": "x"}]'):
        try:
            decode(refused, received_at=now)
        except DecodeError as exc:
            assert exc.code in ("unknown_shape", "invalid_field")
        else:
            raise AssertionError(refused)
