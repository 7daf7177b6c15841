"""kafka-python's records as the worker's `ports.Message`."""

from __future__ import annotations

from typing import Any

from correlator.worker.ports import Message


def to_message(r: Any) -> Message:
    """A kafka-python ConsumerRecord as a `ports.Message`."""
    return Message(
        topic=r.topic,
        partition=r.partition,
        offset=r.offset,
        key=r.key,
        value=r.value,
        headers=tuple(r.headers or ()),
        timestamp_ms=r.timestamp if r.timestamp is not None else 0,
    )
