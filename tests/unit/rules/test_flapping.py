from __future__ import annotations

from datetime import timedelta

from correlator.core.settings import FlappingSettings
from correlator.rules.flapping import record_flip, settle_deadline, settles
from tests.unit.engine.conftest import T0
from tests.unit.rules.conftest import state

M = timedelta(minutes=1)
SETTINGS = FlappingSettings(max_flips=3, window=timedelta(minutes=10))


def test_starts_flapping_on_the_flip_past_the_limit_and_says_so_once() -> None:
    alert = state()
    started = [record_flip(alert, T0 + i * M, SETTINGS) for i in range(5)]
    assert started == [False, False, False, True, False]
    assert alert.flapping


def test_flips_older_than_the_window_do_not_count() -> None:
    alert = state()
    for i in range(4):
        assert not record_flip(alert, T0 + i * 4 * M, SETTINGS)
    assert not alert.flapping
    assert len(alert.flips) == 3  # the flip at T0 fell out of the window


def test_settles_one_window_after_the_last_flip() -> None:
    alert = state()
    for i in range(4):
        record_flip(alert, T0 + i * M, SETTINGS)
    deadline = settle_deadline(alert, SETTINGS)
    assert deadline == T0 + 3 * M + SETTINGS.window
    assert not settles(alert, deadline - timedelta(seconds=1), SETTINGS)
    assert settles(alert, deadline, SETTINGS)


def test_an_alert_that_is_not_flapping_has_no_deadline_and_never_settles() -> None:
    alert = state()
    record_flip(alert, T0, SETTINGS)
    assert settle_deadline(alert, SETTINGS) is None
    assert not settles(alert, T0 + timedelta(hours=1), SETTINGS)
