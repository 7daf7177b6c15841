"""The worker's seams through its public hooks: decode errors by class, the injected clocks,
and topology reloads that change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from correlator.core.model import Alert
from correlator.wire.decode import DecodeError
from correlator.worker.engine import Decoder
from correlator.worker.output import H_DLQ_CODE, H_DLQ_REASON, H_DLQ_TIME
from tests.unit.worker.conftest import Harness

WALL = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)


def _raise(exc: Exception) -> Decoder:
    def decode(raw: bytes, *, received_at: datetime, max_bytes: int) -> list[Alert]:
        raise exc

    return decode


def test_a_decode_error_keeps_its_code_and_reason(harness: Harness) -> None:
    harness.worker(decode=_raise(DecodeError("bad_timestamp", "bad timestamp in startsAt")))
    harness.produce([b'{"anything": 1}'])
    harness.run()
    (letter,) = harness.records(harness.config.dlq_topic)
    headers = dict(letter.headers)
    assert headers[H_DLQ_CODE] == b"bad_timestamp"
    assert headers[H_DLQ_REASON] == b"bad timestamp in startsAt"


def test_any_other_decoder_failure_is_a_decoder_error(harness: Harness) -> None:
    # Same name, same attributes, another class: a decoder bug, not unreadable input.
    lookalike = type("DecodeError", (Exception,), {"code": "not_json", "reason": "pretends"})

    harness.worker(decode=_raise(lookalike("boom")))
    harness.produce([b'{"anything": 1}'])
    harness.run()
    (letter,) = harness.records(harness.config.dlq_topic)
    headers = dict(letter.headers)
    assert headers[H_DLQ_CODE] == b"decoder_error"
    assert b"DecodeError: boom" in headers[H_DLQ_REASON]


def test_wall_time_comes_from_the_injected_clock(harness: Harness) -> None:
    worker = harness.worker(wall=lambda: WALL, decode=_raise(ValueError("x")))
    value = worker.metrics.registry.get_sample_value
    assert value("correlator_topology_last_reload_timestamp_seconds") == WALL.timestamp()
    harness.produce([b"{}"])
    harness.run()
    assert value("correlator_loop_heartbeat_timestamp_seconds") == WALL.timestamp()
    (letter,) = harness.records(harness.config.dlq_topic)
    assert dict(letter.headers)[H_DLQ_TIME].decode().startswith("2031-05-04T03:02:01")


def test_reloading_an_unchanged_topology_swaps_nothing(harness: Harness) -> None:
    worker = harness.worker()
    before = worker.topology
    assert worker.reload_topology("test") is True
    assert worker.topology is before
    assert worker.metrics.registry.get_sample_value("correlator_topology_reloads_total") == 0
