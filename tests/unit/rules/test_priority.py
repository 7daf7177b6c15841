from __future__ import annotations

from datetime import timedelta

from correlator.core.settings import PrioritySettings
from correlator.rules.priority import impact_level, next_update_at, priority_of, urgency_level
from tests.unit.engine.conftest import T0

S = PrioritySettings()
M = timedelta(minutes=1)


def test_impact_from_head_count_cost_and_criticality() -> None:
    assert impact_level(0, 0.0, [], S) == 3
    assert impact_level(S.users_medium, 0.0, [], S) == 2
    assert impact_level(S.users_high, 0.0, [], S) == 1
    assert impact_level(0, S.cost_high, [], S) == 1
    assert impact_level(0, 0.0, ["high"], S) == 2
    assert impact_level(0, 0.0, ["low", "critical"], S) == 1


def test_urgency_from_the_most_severe_alert() -> None:
    assert urgency_level(["warning", "critical"], S) == 1
    assert urgency_level(["error"], S) == 2
    assert urgency_level(["info"], S) == 3
    assert urgency_level([], S) == 3
    assert urgency_level(["made-up"], S) == 3


def test_priority_is_the_matrix_cell() -> None:
    assert priority_of(1, 1, S) == 1
    assert priority_of(3, 3, S) == 5
    custom = PrioritySettings(matrix=((1, 1, 1), (2, 2, 2), (3, 3, 3)))
    assert priority_of(2, 3, custom) == 2


def test_next_update_is_the_first_cadence_slot_after_now() -> None:
    # priority 1: every 30 minutes from the anchor
    assert next_update_at(T0, T0, 1, S) == T0 + 30 * M
    assert next_update_at(T0, T0 + 29 * M, 1, S) == T0 + 30 * M
    assert next_update_at(T0, T0 + 30 * M, 1, S) == T0 + 60 * M
    assert next_update_at(T0, T0 - 5 * M, 1, S) == T0 + 30 * M
