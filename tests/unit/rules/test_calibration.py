"""The shipped confidence calibration: a deterministic, monotone table a desk can read."""

from __future__ import annotations

import pytest

from correlator.rules import calibration
from correlator.rules.calibration import FEATURE_NAMES, Calibration, Features, label_of, share_out


def _clean(**overrides: float) -> Features:
    base = dict(
        silent=0.0,
        coverage=1.0,
        healthy=0.0,
        explained=1.0,
        unexplained=0.0,
        margin=1.0,
        spread=0.5,
        alone=0.0,
    )
    base.update(overrides)
    return Features(**base)


def test_shipped_table_is_fitted_monotone_and_round_trips() -> None:
    table = calibration.shipped()
    assert table is not calibration.UNFITTED, "correlator/rules/calibration.json is missing"
    assert list(table.xs) == sorted(table.xs)
    assert list(table.ys) == sorted(table.ys), "isotonic: a higher score never means less sure"
    assert all(0.0 < y < 1.0 for y in table.ys), "smoothed: never 0 % or 100 % sure"
    assert Calibration.from_json(table.to_json()) == table


def test_table_for_other_features_is_refused() -> None:
    data = calibration.shipped().to_json()
    data["features"] = [*FEATURE_NAMES[:-1], "something-else"]
    with pytest.raises(ValueError, match="features"):
        Calibration.from_json(data)


def test_confidence_is_a_probability_and_deterministic() -> None:
    table = calibration.shipped()
    for features in (_clean(), _clean(silent=1.0, coverage=0.4, healthy=2.0), _clean(alone=1.0)):
        value = table.confidence(features)
        assert 0.0 <= value <= 1.0
        assert value == table.confidence(features)


def test_a_root_that_explains_everything_is_likelier_than_one_leaving_much_unexplained() -> None:
    table = calibration.shipped()
    clean = table.confidence(_clean())
    messy = table.confidence(_clean(explained=0.2, unexplained=1.6, margin=0.0))
    assert clean >= 0.8
    assert messy < clean


@pytest.mark.parametrize(
    ("value", "label"),
    [(0.95, "likely"), (0.8, "likely"), (0.79, "probable"), (0.5, "probable"), (0.49, "possible")],
)
def test_words_follow_documented_thresholds(value: float, label: str) -> None:
    assert label_of(value) == label


def test_others_share_only_what_the_top_leaves() -> None:
    rest = share_out(0.9, [0.3, 0.2, 0.05, 0.05])
    assert sum(rest) <= 0.1 + 1e-9
    assert rest == sorted(rest, reverse=True)
    assert share_out(1.0, [0.5]) == [0.0]
    assert share_out(0.5, []) == []
