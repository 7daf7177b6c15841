"""Whatever arrives, `decode` returns Alerts or raises DecodeError; nothing else escapes."""

from __future__ import annotations

import copy
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from correlator.wire.decode import CODES, DecodeError, decode
from tests.unit.sources._support import FIXTURES, RECEIVED, assert_well_typed

# Keys the decoders look at, so generated objects reach deep into every format's code.
_KEYS = st.sampled_from(
    [
        "alerts", "version", "groupKey", "orgId", "labels", "annotations", "status", "startsAt",
        "endsAt", "generatorURL", "fingerprint", "silenceURL", "values", "event_action",
        "dedup_key", "payload", "summary", "source", "severity", "timestamp", "component",
        "group", "class", "custom_details", "client", "client_url", "name", "node",
        "starts_at", "generator_url", "alertname", "description", "message",
    ]
)  # fmt: skip

_TIMES = st.sampled_from(
    [
        "2026-11-22T05:00:00Z",
        "2026-11-22T05:00:00.123456789+02:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00-01:00",
        "yesterday",
    ]
)
_WORDS = st.sampled_from(
    ["firing", "resolved", "FIRING", "trigger", "resolve", "acknowledge", "critical", "4", ""]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | _TIMES
    | _WORDS
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_KEYS | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=30,
)
_OBJECTS = st.dictionaries(_KEYS, _JSON, max_size=8)


def _check(raw: bytes | str) -> None:
    try:
        alerts = decode(raw, received_at=RECEIVED)
    except DecodeError as err:
        assert err.code in CODES
        assert err.reason
        return
    for alert in alerts:
        assert_well_typed(alert)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_arbitrary_bytes(raw: bytes) -> None:
    _check(raw)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_arbitrary_text(raw: str) -> None:
    _check(raw)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(_OBJECTS)
def test_arbitrary_objects(obj: dict[str, object]) -> None:
    _check(orjson.dumps(obj))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_KEYS, _JSON, max_size=8), max_size=3), _JSON)
def test_arbitrary_webhooks(alerts: list[dict[str, object]], extra: object) -> None:
    _check(orjson.dumps({"version": "4", "alerts": alerts, "extra": extra}))
    labelled = [{**a, "labels": a.get("labels") or {"alertname": "x"}} for a in alerts]
    _check(orjson.dumps({"version": "4", "alerts": labelled}))


_SAMPLES = [orjson.loads(path.read_bytes()) for path in sorted(FIXTURES.glob("*.json"))]


def _mutate(draw: st.DrawFn, doc: Any) -> Any:
    """Walk from the root to a random container and replace, add or delete one entry."""
    node = doc
    while True:
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            key = draw(st.integers(0, len(node) - 1))
        else:
            return doc
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            node[key] = draw(_JSON)
        elif action == "delete":
            del node[key]
        elif isinstance(node, dict):
            node[draw(_KEYS)] = draw(_JSON)
        return doc


@st.composite
def _mutated_samples(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(_SAMPLES)))
    for _ in range(draw(st.integers(1, 3))):
        doc = _mutate(draw, doc)
    return doc


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_samples())
def test_mutated_real_payloads(doc: Any) -> None:
    _check(orjson.dumps(doc))
