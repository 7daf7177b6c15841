from __future__ import annotations

import pytest

from correlator.core.keys import META, KeyKind, StateKey, alert_key, incident_key


@pytest.mark.parametrize(
    ("key", "text"),
    [
        (META, "meta"),
        (incident_key("INC-0A"), "incident/INC-0A"),
        (alert_key("fp/with/slashes"), "alert/fp/with/slashes"),
    ],
)
def test_keys_keep_their_wire_form(key: StateKey, text: str) -> None:
    assert key.format() == text
    assert StateKey.parse(text) == key


@pytest.mark.parametrize("text", ["", "incident", "other/x", "metadata"])
def test_unknown_keys_parse_to_none(text: str) -> None:
    assert StateKey.parse(text) is None


def test_kinds() -> None:
    assert {k.value for k in KeyKind} == {"meta", "incident", "alert", "recurrence"}
