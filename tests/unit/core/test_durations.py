"""Durations in the syntax Prometheus and Alertmanager use, through a pydantic field."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, BeforeValidator, ValidationError

from correlator.core.durations import (
    DurationError,
    coerce_duration,
    format_duration,
    parse_duration,
)

Duration = Annotated[timedelta, BeforeValidator(coerce_duration)]


class Model(BaseModel):
    d: Duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("2d", timedelta(days=2)),
        ("1w2d", timedelta(days=9)),
        ("1y", timedelta(days=365)),
        ("500ms", timedelta(milliseconds=500)),
        ("1m30s250ms", timedelta(seconds=90.25)),
        ("1d12h", timedelta(hours=36)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        (" 15m ", timedelta(minutes=15)),
        ("1.5h", timedelta(minutes=90)),
        ("0.25s", timedelta(milliseconds=250)),
        ("90", timedelta(seconds=90)),
        ("2.5", timedelta(seconds=2.5)),
    ],
)
def test_accepted(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert Model(d=text).d == expected


@pytest.mark.parametrize(
    "text", ["", "1h1h", "30m1h", "1.5h30m", "h", "-5m", "5 m", "1hour", "5M", "1ms1s", "1e3s"]
)
def test_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)
    with pytest.raises(ValidationError) as info:
        Model(d=text)
    assert "duration" in str(info.value)


def test_numbers_iso_and_timedeltas() -> None:
    assert Model(d=90).d == timedelta(seconds=90)
    assert Model(d=0.5).d == timedelta(milliseconds=500)
    assert Model(d="PT15M").d == timedelta(minutes=15)
    assert Model(d=timedelta(hours=2)).d == timedelta(hours=2)
    with pytest.raises(ValidationError):
        Model(d=-1)
    with pytest.raises(ValidationError):
        Model(d=True)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2), "2d"),
        (timedelta(days=9), "1w2d"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(0), "0s"),
    ],
)
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.integers(min_value=0, max_value=10**12))
def test_format_then_parse_round_trips(ms: int) -> None:
    value = timedelta(milliseconds=ms)
    assert parse_duration(format_duration(value)) == value
