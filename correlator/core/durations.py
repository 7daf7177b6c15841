"""Durations as SREs write them: Prometheus and Alertmanager syntax (`1h30m`, `90s`, `2d`).

Accepted, for every `Duration` setting:

* Prometheus's grammar: integers with units `y` (365 days), `w`, `d`, `h`, `m`, `s`, `ms`, each
  at most once and largest first (`1d12h`, `1h30m`, `500ms`), or `0`;
* one decimal number with one unit (`1.5h`, `0.25s`), which the settings accepted before;
* a bare number, or a number in a string (`90`, `"2.5"`), meaning seconds;
* ISO 8601 (`PT15M`), handed on to pydantic, which reads it natively.

Anything else is refused with a message that shows the expected forms.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

from correlator.errors import CorrelatorError

UNIT_SECONDS: Final = {
    "y": 365 * 86400,
    "w": 7 * 86400,
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
    "ms": 0.001,
}
# Prometheus's expression (common/model/time.go), units in order, each at most once.
_PROMETHEUS: Final = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_SINGLE: Final = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(ms|y|w|d|h|m|s)?$")
_UNITS_IN_ORDER: Final = ("y", "w", "d", "h", "m", "s", "ms")


class DurationError(CorrelatorError, ValueError):
    """Not a duration in any accepted form."""


def parse_duration(text: str) -> timedelta:
    """`'1h30m'` -> 1:30:00. Raises `DurationError` for anything not in the forms above."""
    value = text.strip()
    if not value:
        raise DurationError("empty duration")
    hit = _PROMETHEUS.match(value)
    if hit and any(hit.groups()):
        pairs = zip(hit.groups(), _UNITS_IN_ORDER, strict=True)
        seconds = sum(int(n) * UNIT_SECONDS[u] for n, u in pairs if n)
        return timedelta(seconds=seconds)
    hit = _SINGLE.match(value)
    if hit:
        return timedelta(seconds=float(hit.group(1)) * UNIT_SECONDS[hit.group(2) or "s"])
    raise DurationError(
        f"not a duration: {text!r}; write it as Prometheus does (90s, 15m, 1h30m, 2d, 500ms), "
        "as one decimal with a unit (1.5h), or as a number of seconds"
    )


def coerce_duration(value: object) -> object:
    """A pydantic `BeforeValidator`: numbers are seconds, strings are parsed, ISO 8601 strings
    and timedeltas pass through to pydantic's own `timedelta` handling."""
    if isinstance(value, bool):
        # pydantic would read True as one second.
        raise DurationError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise DurationError(f"a duration cannot be negative: {value}")
        return timedelta(seconds=value)
    if isinstance(value, str) and not value.strip().upper().startswith(("P", "-P")):
        return parse_duration(value)
    return value


def format_duration(value: timedelta) -> str:
    """The Prometheus spelling of `value` (`1h30m`, `2d`, `500ms`, `0s`); `y` is not used, since
    a year of 365 days surprises readers more than `365d` does."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    sign = "-" if total_ms < 0 else ""
    total_ms = abs(total_ms)
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        size = int(UNIT_SECONDS[unit] * 1000)
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    if total_ms:
        parts.append(f"{total_ms}ms")
    return sign + "".join(parts)
