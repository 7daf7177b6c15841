"""Properties of the engine that must hold for any stream of events.

* `replay` is deterministic: the same lines in the same order give byte-identical records.
* Every alert that fired (no silences are configured, so nothing is suppressed) ends up in
  exactly one non-merged incident of the final state, when alerts do not fire again; with
  re-firing, each occurrence (fingerprint, starts_at) is in at most one, and every alert is in
  at least one.
* `snapshot()` then `restore()` into a fresh engine, at any point of a stream, gives the same
  records as an uninterrupted run (compared with `to_json()` byte for byte).
* Throwing the timer heap away and scheduling the live items' timers again (what the engine
  does when stale timers pile up) after every event gives the same records as never doing it.
"""

from __future__ import annotations

import os
from collections import Counter
from unittest import mock

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from correlator.core.engine import Correlator
from correlator.core.settings import EngineSettings
from correlator.core.timers import TimerWheel
from correlator.replay import final_states, replay_lines, replay_updates
from correlator.wire.render.record import build_record

from .streams import Stream, example, streams

SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _replay(stream: Stream) -> list[bytes]:
    return [r.to_json() for r in replay_lines(example(), EngineSettings(), stream.lines)]


@SETTINGS
@given(streams())
def test_replay_is_deterministic(stream: Stream) -> None:
    first = _replay(stream)
    second = _replay(stream)
    assert first == second
    assert first or not stream.fired or all('"firing"' not in line for line in stream.lines), (
        "firing alerts published nothing"
    )


@SETTINGS
@given(streams(refire=False))
def test_every_alert_ends_in_exactly_one_incident(stream: Stream) -> None:
    records = replay_lines(example(), EngineSettings(), stream.lines)
    final = [r for r in final_states(records).values() if r.status != "merged"]
    holders = Counter(a.fingerprint for r in final for a in r.alerts)
    for fp in sorted(stream.fired):
        assert holders[fp] == 1, (fp, holders[fp], stream.lines)
    assert set(holders) <= stream.fired, "an alert that never fired is in an incident"


@SETTINGS
@given(streams())
def test_every_occurrence_in_at_most_one_incident(stream: Stream) -> None:
    records = replay_lines(example(), EngineSettings(), stream.lines)
    final = [r for r in final_states(records).values() if r.status != "merged"]
    occurrences = Counter((a.fingerprint, a.starts_at) for r in final for a in r.alerts)
    duplicated = [k for k, n in occurrences.items() if n > 1]
    assert not duplicated, (duplicated, stream.lines)
    holders = {a.fingerprint for r in final for a in r.alerts}
    assert stream.fired <= holders, (sorted(stream.fired - holders), stream.lines)


def _uninterrupted(stream: Stream) -> list[bytes]:
    engine = Correlator(example(), EngineSettings(), render=build_record)
    return [u.record.to_json() for u in replay_updates(engine, stream.lines)]


@SETTINGS
@given(streams())
def test_rescheduling_timers_at_every_event_changes_no_record(stream: Stream) -> None:
    expected = _uninterrupted(stream)
    with mock.patch.object(TimerWheel, "overgrown", lambda _self, _items: True):
        got = _uninterrupted(stream)
    assert got == expected, stream.lines


def _interrupted(stream: Stream, cut: int, *, roundtrip: bool) -> list[bytes]:
    first = Correlator(example(), EngineSettings(), render=build_record)
    out = [u.record.to_json() for u in replay_updates(first, stream.lines[:cut], drain=False)]
    state = first.snapshot()
    if roundtrip:  # as it would come back from a changelog topic
        state = orjson.loads(orjson.dumps(state))
    second = Correlator(example(), EngineSettings(), render=build_record)
    second.restore(state)
    out += [u.record.to_json() for u in replay_updates(second, stream.lines[cut:])]
    return out


@SETTINGS
@given(streams(), st.data())
def test_snapshot_restore_anywhere_matches_an_uninterrupted_run(
    stream: Stream, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(stream.lines)), label="cut")
    expected = _uninterrupted(stream)
    got = _interrupted(stream, cut, roundtrip=True)
    assert got == expected, (cut, stream.lines)


def _by_incident(records: list[bytes]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for raw in records:
        out.setdefault(orjson.loads(raw)["id"], []).append(raw)
    return out


@SETTINGS
@given(streams(), st.data())
def test_snapshot_restore_anywhere_matches_per_incident(
    stream: Stream, data: st.DataObject
) -> None:
    """The same, per Kafka key: each incident's own sequence of records is identical (what a
    compacted incidents topic and its consumers see), whatever the interleaving across keys."""
    cut = data.draw(st.integers(0, len(stream.lines)), label="cut")
    expected = _by_incident(_uninterrupted(stream))
    got = _by_incident(_interrupted(stream, cut, roundtrip=True))
    assert got == expected, (cut, stream.lines)


def _from_changelog(stream: Stream, cut: int) -> tuple[list[bytes], dict[str, object]]:
    """Run `cut` lines one at a time, folding `take_state_changes()` after each into a table
    as a compacted changelog topic would (None deletes the key)."""
    engine = Correlator(example(), EngineSettings(), render=build_record)
    table: dict[str, object] = {}
    out: list[bytes] = []
    for line in stream.lines[:cut]:
        out += [u.record.to_json() for u in replay_updates(engine, [line], drain=False)]
        for key, value in orjson.loads(orjson.dumps(engine.take_state_changes())).items():
            if value is None:
                assert key in table, f"deleted {key}, which was never written"
                del table[key]
            else:
                table[key] = value
    snapshot = orjson.loads(orjson.dumps(engine.snapshot()))
    if not cut:
        del snapshot["meta"]  # a fresh engine has written nothing yet
    # A re-send only moves `last_seen`, which decides nothing: it is not written, by design
    # (re-sends are most of the input).
    assert _without_last_seen(table) == _without_last_seen(snapshot)
    return out, table


def _without_last_seen(table: dict[str, object]) -> dict[str, object]:
    return {
        k: {f: x for f, x in v.items() if f != "last_seen"} if isinstance(v, dict) else v
        for k, v in table.items()
    }


@SETTINGS
@given(streams(), st.data())
def test_changelog_restore_anywhere_matches_an_uninterrupted_run(
    stream: Stream, data: st.DataObject
) -> None:
    """Crash equals replay through the changelog: the table built from the state changes
    equals the snapshot, and an engine restored from it says what the original would have."""
    cut = data.draw(st.integers(0, len(stream.lines)), label="cut")
    expected = _uninterrupted(stream)
    got, table = _from_changelog(stream, cut)
    second = Correlator(example(), EngineSettings(), render=build_record)
    second.restore(table)
    got += [u.record.to_json() for u in replay_updates(second, stream.lines[cut:])]
    assert got == expected, (cut, stream.lines)
