"""Input decoders: one raw message in, zero or more `Alert`s out (docs/formats.md, inputs).

    alerts = decode(record.value, received_at=record_time)

`decode` checks the size, parses JSON (orjson), detects the format of the message and hands
it to that format's module:

=========================  =====================================================  ==========
format                     detected by (first hit wins)                           module
=========================  =====================================================  ==========
``alertmanager-webhook``   an `alerts` array (or `alerts` beside `version` /      alertmanager
                           `groupKey`)
``pagerduty-v2``           an `event_action` key                                  pagerduty
``alertmanager-alert``     a `labels` object, one of `startsAt` `endsAt`          alertmanager
                           `annotations` `generatorURL` `fingerprint` `status`,
                           and none of the native keys (`node` `source`
                           `timestamp` `name` `severity` `summary`)
``native``                 one of `name` `node` `status` and one of `source`      native
                           `timestamp`
=========================  =====================================================  ==========

One message is one JSON object, or the body of Alertmanager's `POST /api/v2/alerts` (what
Prometheus sends): a non-empty array of alert objects with `labels`, read as a webhook's
`alerts[]`. Any other top-level array is refused (an Alertmanager webhook already carries
many alerts). Anything that cannot be read raises `DecodeError`, whose `code`
is one of not_json | unknown_shape | bad_timestamp | too_large | invalid_field and whose
`reason` is a sentence naming the problem; the caller dead-letters the message and carries on.

`received_at` is only used where a message carries no time of its own (a PagerDuty event
without `payload.timestamp`, a native event without `timestamp`, an alert without
`startsAt`), and to tell whether a status-less alert object has already ended. Pass the
record's own time (the Kafka timestamp, the HTTP arrival) so that replay stays deterministic.
Every datetime on the returned Alerts is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from correlator.core.model import Alert, utc
from correlator.wire.decode import alertmanager, native, pagerduty
from correlator.wire.decode._common import describe
from correlator.wire.decode.errors import CODES, DecodeError, DecodeErrorCode

__all__ = [
    "CODES",
    "DEFAULT_MAX_BYTES",
    "FORMATS",
    "DecodeError",
    "DecodeErrorCode",
    "decode",
    "decode_object",
    "detect",
]

#: 1 MiB: an Alertmanager webhook of a few hundred alerts is well under this; the Kafka
#: default `message.max.bytes` is about the same, so anything bigger is a mistake upstream
#: (and parsing it would stall the worker's batch).
DEFAULT_MAX_BYTES: Final = 1_048_576

_Decoder = Callable[[dict[str, Any], datetime], list[Alert]]

_DECODERS: Final[dict[str, _Decoder]] = {
    alertmanager.WEBHOOK_FORMAT: alertmanager.decode_webhook,
    pagerduty.FORMAT: pagerduty.decode,
    alertmanager.ALERT_FORMAT: alertmanager.decode_alert,
    native.FORMAT: native.decode,
}

#: The format names `detect` returns, in detection order; also the values of `Alert.format`.
FORMATS: Final[tuple[str, ...]] = tuple(_DECODERS)

_AM_ALERT_KEYS: Final = (
    "startsAt",
    "endsAt",
    "annotations",
    "generatorURL",
    "fingerprint",
    "status",
)
_NATIVE_KEYS: Final = ("node", "source", "timestamp", "name", "severity", "summary")
_EXPECTED: Final = (
    "expected an Alertmanager webhook (version 4), an alert object with labels, "
    "a PagerDuty Events v2 event or a native event"
)
_KEYS_SHOWN: Final = 8


def _unknown(obj: object) -> DecodeError:
    if isinstance(obj, dict):
        keys = [str(k)[:40] for k in list(obj)[:_KEYS_SHOWN]]
        seen = ", ".join(keys) + (", …" if len(obj) > _KEYS_SHOWN else "")
        got = f"an object with keys {seen}" if keys else "an empty object"
    else:
        got = f"{describe(obj)}, not an object"
    return DecodeError("unknown_shape", f"no recognisable shape: {_EXPECTED}; got {got}")


def detect(obj: object) -> str:
    """The format name of one parsed message (one of `FORMATS`).

    Raises DecodeError(unknown_shape) when it is none of them, or not a JSON object at all.
    """
    if not isinstance(obj, dict):
        raise _unknown(obj)
    if isinstance(obj.get("alerts"), list) or (
        "alerts" in obj and ("version" in obj or "groupKey" in obj)
    ):
        return alertmanager.WEBHOOK_FORMAT
    if "event_action" in obj:
        return pagerduty.FORMAT
    if (
        isinstance(obj.get("labels"), dict)
        and any(k in obj for k in _AM_ALERT_KEYS)
        and not any(k in obj for k in _NATIVE_KEYS)
    ):
        return alertmanager.ALERT_FORMAT
    if ("name" in obj or "node" in obj or "status" in obj) and (
        "source" in obj or "timestamp" in obj
    ):
        return native.FORMAT
    raise _unknown(obj)


def decode_object(obj: object, *, received_at: datetime) -> list[Alert]:
    """Decode one already-parsed message (for callers that parsed the JSON themselves)."""
    if _is_api_v2_alerts(obj):
        obj = {"alerts": obj}
    if not isinstance(obj, dict):
        raise _unknown(obj)
    if received_at.tzinfo is not UTC:
        received_at = utc(received_at)
    return _DECODERS[detect(obj)](obj, received_at)


def _human_size(size: int) -> str:
    if size >= 1_048_576:
        return f"{size / 1_048_576:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        return f"{size / 1024:.1f}".removesuffix(".0") + " KB"
    return f"{size} bytes"


def _size(raw: bytes | bytearray | memoryview | str, max_bytes: int) -> int:
    if isinstance(raw, str):
        # A character is 1-4 UTF-8 bytes: only encode when the cheap bound cannot decide.
        if len(raw) * 4 <= max_bytes:
            return len(raw)
        return len(raw.encode("utf-8", "surrogatepass"))
    if isinstance(raw, memoryview):
        return raw.nbytes
    return len(raw)


def _is_api_v2_alerts(obj: object) -> bool:
    """`[{"labels": {...}, ...}, ...]`: the array Alertmanager's API v2 accepts."""
    return (
        isinstance(obj, list)
        and bool(obj)
        and all(isinstance(item, dict) and isinstance(item.get("labels"), dict) for item in obj)
    )


def decode(
    raw: bytes | bytearray | memoryview | str,
    *,
    received_at: datetime,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[Alert]:
    """All the alerts in one raw message; [] for one that carries none (an ack, an empty
    webhook). Raises DecodeError for a message that cannot be read."""
    size = _size(raw, max_bytes)
    if size > max_bytes:
        raise DecodeError(
            "too_large",
            f"message is {_human_size(size)}, over the {_human_size(max_bytes)} limit",
        )
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("not_json", _not_json_reason(exc, raw)) from None
    return decode_object(obj, received_at=received_at)


def _not_json_reason(exc: orjson.JSONDecodeError, raw: bytes | bytearray | memoryview | str) -> str:
    if isinstance(raw, str):
        empty, unit = not raw.strip(), "character"
    else:
        empty, unit = not bytes(raw).strip(), "byte"
    if empty:
        return "not JSON: the message is empty"
    return f"not JSON: {exc.msg} at {unit} {exc.pos}"
