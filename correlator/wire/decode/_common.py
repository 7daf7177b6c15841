"""Helpers shared by the decoders: timestamps, string maps, fingerprints, error wording.

Everything here runs once or more per alert on the hot path (tens of thousands of messages a
second), so it avoids pydantic and regex work where a cheaper check will do.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Final

import orjson

from correlator.core.bounds import EVENT_TIME_MAX, EVENT_TIME_MIN
from correlator.wire.decode.errors import DecodeError

# RFC 3339 date-time (section 5.6), a little more lenient: a space for the `T`, lower-case
# `t`/`z`, any number of fractional digits (Alertmanager emits nanoseconds; we keep
# microseconds), an offset without the colon (`+0000`, as PagerDuty's own examples show) and
# no offset at all (taken as UTC, like `models.utc`). It is checked before
# `datetime.fromisoformat` because that also takes week dates, bare dates and basic format
# ('2026-W47-1', '2026-11-22', '20261122T050000Z'), which no monitoring system means.
_RFC3339: Final = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):?(\d\d))?",
    re.ASCII,
)

# Unix seconds that `datetime.fromtimestamp` can represent on every platform; anything outside
# is almost certainly milliseconds or garbage, and we would rather say so than guess.
_MIN_EPOCH: Final = -62_135_596_800.0  # 0001-01-01T00:00:00Z
_MAX_EPOCH: Final = 253_402_300_799.0  # 9999-12-31T23:59:59Z

_REPR_LIMIT: Final = 60

#: Go's zero `time.Time`, as Alertmanager marshals it: the one year-0001 time meaning "none".
_GO_ZERO: Final = datetime(1, 1, 1)


def show(value: object) -> str:
    """A short, quoted rendering of an offending value for an error reason."""
    if isinstance(value, str):
        if len(value) > _REPR_LIMIT:
            return repr(value[:_REPR_LIMIT]) + "…"
        return repr(value)
    try:
        text = orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[:_REPR_LIMIT] + "…"


def describe(value: object) -> str:
    """The JSON type of a value, with an article: 'an object', 'a number', 'null'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def field(prefix: str, name: str) -> str:
    """`alerts[2].` + `startsAt`; keys from the wire are clipped so a reason stays short."""
    if len(name) > _REPR_LIMIT:
        name = name[:_REPR_LIMIT] + "…"
    return prefix + name


def invalid(path: str, problem: str) -> DecodeError:
    return DecodeError("invalid_field", f"invalid {path}: {problem}")


def bad_timestamp(path: str, value: object, why: str = "") -> DecodeError:
    reason = f"bad timestamp in {path}: {show(value)}"
    if why:
        reason += f" ({why})"
    return DecodeError("bad_timestamp", reason)


def _to_utc(ts: datetime) -> datetime:
    tz = ts.tzinfo
    if tz is UTC:
        return ts
    if tz is None:
        return ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def _parse_slow(match: re.Match[str]) -> datetime:
    """Build the datetime from the regex groups; used when `fromisoformat` declines the text
    (lower-case t/z, a space separator or more fractional digits than this Python takes)."""
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    micro = int((frac + "000000")[:6]) if frac else 0
    tz: timezone = UTC
    if sign is not None and not zulu:
        delta = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-delta if sign == "-" else delta)
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
    )


def parse_time(value: object, path: str) -> datetime | None:
    """An RFC 3339 string (or Unix seconds) as an aware UTC datetime.

    Returns None when the value is absent, empty, or exactly Go's zero time
    ('0001-01-01T00:00:00Z', which Alertmanager writes as the `endsAt` of a firing alert to
    mean "none"; any other year-0001 time is refused, not taken for "none").
    Raises DecodeError(bad_timestamp) naming `path` for anything else it cannot read, and for
    times outside `core.bounds` (1970 to 2200): a year-9999 event would otherwise overflow
    the engine's clock arithmetic.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        match = _RFC3339.fullmatch(value)
        if match is None:
            raise bad_timestamp(path, value, "expected RFC 3339, e.g. 2026-11-22T05:00:00Z")
        try:
            try:
                ts = datetime.fromisoformat(value)
            except ValueError:
                ts = _parse_slow(match)
            if ts.replace(tzinfo=None) == _GO_ZERO and not ts.utcoffset():
                return None  # only the exact zero time, in UTC (or with no offset)
            ts = _to_utc(ts)
        except (ValueError, OverflowError) as exc:
            raise bad_timestamp(path, value, str(exc)) from None
        return _in_range(ts, path, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not _MIN_EPOCH <= value <= _MAX_EPOCH:
            raise bad_timestamp(path, value, "out of range for Unix seconds")
        try:
            ts = datetime.fromtimestamp(value, UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise bad_timestamp(path, value, str(exc)) from None
        return _in_range(ts, path, value)
    raise bad_timestamp(path, value, f"expected an RFC 3339 string, got {describe(value)}")


def _in_range(ts: datetime, path: str, value: object) -> datetime:
    if EVENT_TIME_MIN <= ts < EVENT_TIME_MAX:
        return ts
    raise bad_timestamp(
        path, value, f"outside the years {EVENT_TIME_MIN.year} to {EVENT_TIME_MAX.year - 1}"
    )


def scalar_text(value: object) -> str | None:
    """A JSON scalar as label text (`true`, `3`, `0.5`); None for null and for containers."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


#: Bounds on what one alert may carry (RELIABILITY.md). Labels identify an alert, so a label
#: over its bound refuses the alert (`too_large`): cutting it could make two alerts one. An
#: annotation only describes it, so a long one is cut to `MAX_TEXT` characters
#: ending in `TRUNCATED`. A 60,000-label alert cost the engine 97 ms against 0.17 ms.
MAX_ENTRIES: Final = 128
MAX_NAME: Final = 1024
MAX_LABEL_VALUE: Final = 4096
MAX_TEXT: Final = 8192
#: A summary is one line a person reads; it is also listed for every alert of an incident
#: record, so it is held shorter than an annotation.
MAX_SUMMARY: Final = 1024
TRUNCATED: Final = " …[truncated]"


def too_large(path: str, problem: str) -> DecodeError:
    return DecodeError("too_large", f"{path}: {problem}")


def bounded_text(text: str, limit: int = MAX_TEXT) -> str:
    """A descriptive text (an annotation, a summary) cut to `limit` characters."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATED)] + TRUNCATED


def string_map(value: object, path: str, what: str) -> dict[str, str]:
    """Labels or annotations: an object of strings. Numbers and booleans become text, null
    entries are dropped (Prometheus treats an empty label as an absent one), and a nested
    object or array is refused: a label is one value, and guessing a flattening would make
    two senders' label sets disagree. Bounded: see `MAX_ENTRIES` and the lines above it."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(path, f"expected an object of {what}s, got {describe(value)}")
    if len(value) > MAX_ENTRIES:
        raise too_large(path, f"{len(value)} {what}s, over the limit of {MAX_ENTRIES}")
    label = what == "label"
    out: dict[str, str] = {}
    for key, item in value.items():
        if len(key) > MAX_NAME:
            raise too_large(path, f"a {what} name of {len(key)} characters, over {MAX_NAME}")
        if isinstance(item, str):
            text = item
        elif item is None:
            continue
        else:
            scalar = scalar_text(item)
            if scalar is None:
                raise invalid(
                    field(path + ".", str(key)),
                    f"{what} values must be strings, got {describe(item)}",
                )
            text = scalar
        if label and len(text) > MAX_LABEL_VALUE:
            raise too_large(
                field(path + ".", key), f"{len(text)} characters, over {MAX_LABEL_VALUE}"
            )
        out[key] = text if label else bounded_text(text)
    return out


def optional_text(value: object, path: str, *, descriptive: bool = False) -> str | None:
    """An optional string field; numbers are taken as text, empty as absent. An identifier
    (name, node, source...) over `MAX_LABEL_VALUE` characters is refused; a `descriptive` one
    (a summary) is cut to `MAX_SUMMARY`."""
    if value is None or value == "":
        return None
    text = scalar_text(value)
    if text is None:
        raise invalid(path, f"expected a string, got {describe(value)}")
    if descriptive:
        return bounded_text(text, MAX_SUMMARY)
    if len(text) > MAX_LABEL_VALUE:
        raise too_large(path, f"{len(text)} characters, over {MAX_LABEL_VALUE}")
    return text


# --- fingerprints -----------------------------------------------------------------------

_FNV_OFFSET: Final = 14695981039346656037
_FNV_PRIME: Final = 1099511628211
_MASK64: Final = (1 << 64) - 1
_SEPARATOR: Final = 0xFF


def labels_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's own fingerprint of a label set (prometheus/common `LabelSet.Fingerprint`:
    FNV-1a 64 over the sorted `name 0xff value 0xff` bytes, as 16 hex digits).

    So an alert posted without a fingerprint gets the very id Alertmanager would give it, and
    "same label set = same alert" holds across the webhook and the single-alert shapes.
    """
    return _fnv_labels(tuple(sorted(labels.items())))


# Pure-Python FNV costs ~8 µs for a typical label set; the same label sets recur on every
# re-send, so a bounded cache makes the common case a tuple hash. 16k entries is a few MB.
@lru_cache(maxsize=16_384)
def _fnv_labels(items: tuple[tuple[str, str], ...]) -> str:
    h = _FNV_OFFSET
    for name, value in items:
        for byte in name.encode("utf-8", "surrogatepass"):
            h = ((h ^ byte) * _FNV_PRIME) & _MASK64
        h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK64
        for byte in value.encode("utf-8", "surrogatepass"):
            h = ((h ^ byte) * _FNV_PRIME) & _MASK64
        h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK64
    return f"{h:016x}"


def stable_hash(*parts: Any) -> str:
    """A stable 16-hex-digit id from a few values (sha256 of their JSON array).

    JSON keeps the parts apart unambiguously (("a b", "c") differs from ("a", "b c")).
    """
    data = orjson.dumps(parts)
    return hashlib.sha256(data).hexdigest()[:16]
