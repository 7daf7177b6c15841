from __future__ import annotations

from datetime import timedelta

import pytest

from correlator.core.settings import Silence
from correlator.rules.suppression import compile_silences, muted_by, parse_matcher
from tests.unit.engine.conftest import T0

H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("text", "labels", "hit"),
    [
        ('env="prod"', {"env": "prod"}, True),
        ('env!="prod"', {"env": "prod"}, False),
        ('instance=~"db.*"', {"instance": "db1"}, True),
        ('instance=~"db"', {"instance": "db1"}, False),  # anchored, as in Alertmanager
        ('job!~"test.*"', {"job": "api"}, True),
        ('missing=""', {}, True),
    ],
)
def test_matchers_use_alertmanager_semantics(text: str, labels: dict[str, str], hit: bool) -> None:
    assert parse_matcher(text).matches(labels) is hit


def test_a_malformed_matcher_is_refused() -> None:
    with pytest.raises(ValueError, match="bad matcher"):
        parse_matcher("just words")


def test_a_silence_with_neither_matchers_nor_nodes_is_refused() -> None:
    with pytest.raises(ValueError, match="neither matchers nor nodes"):
        compile_silences([Silence()], [])


def test_first_active_silence_names_the_reason() -> None:
    silences = compile_silences(
        [Silence(id="quiet", matchers=["alertname=Disk"], starts_at=T0, ends_at=T0 + H)],
        [Silence(nodes=["san"])],
    )
    assert muted_by(silences, "Disk", {}, None, T0) == "silence:quiet"
    assert muted_by(silences, "Disk", {}, None, T0 + H) is None  # ended
    assert muted_by(silences, "Down", {}, "san", T0) == "maintenance:maintenance-1"
    assert muted_by(silences, "Down", {}, "db-host", T0) is None


def test_matchers_and_nodes_together_must_both_hold() -> None:
    silences = compile_silences([Silence(matchers={"env": "test"}, nodes=["san"])], [])
    assert muted_by(silences, "Down", {"env": "test"}, "san", T0) == "silence:silence-1"
    assert muted_by(silences, "Down", {"env": "test"}, "db-host", T0) is None
    assert muted_by(silences, "Down", {"env": "prod"}, "san", T0) is None
