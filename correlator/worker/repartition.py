"""The internal repartition record: what stage 1 (decode and route) hands to stage 2 (correlate).

Value: `{"v": 1, "alerts": [...]}`, every alert of one input message bound for one partition;
headers: where the alerts came from, for de-duplication after a crash and for latency.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from correlator.core.model import Alert
from correlator.worker.engine import JsonValue
from correlator.worker.ports import Headers, Message

#: Headers on repartition records: where the alert came from, for de-duplication and latency.
H_SOURCE = "correlator.src"
H_OFFSET = "correlator.src.offset"
H_TIMESTAMP = "correlator.src.timestamp"
#: Version of the repartition record's JSON (`{"v": 1, "alerts": [...]}`).
REPARTITION_VERSION = 1


def source_headers(message: Message) -> Headers:
    """The headers of the repartition records made from one input message."""
    return (
        (H_SOURCE, f"{message.topic}/{message.partition}".encode()),
        (H_OFFSET, str(message.offset).encode()),
        (H_TIMESTAMP, str(message.timestamp_ms).encode()),
    )


def encode_record(alerts: Sequence[JsonValue]) -> bytes:
    return orjson.dumps({"v": REPARTITION_VERSION, "alerts": alerts})


def decode_record(value: bytes | None) -> list[Alert]:
    """Raises ValueError or pydantic's ValidationError for a record it cannot read."""
    data = orjson.loads(value or b"null")
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise ValueError("expected an object with an alerts list")
    return [Alert.model_validate(item) for item in data["alerts"]]


__all__ = [
    "H_OFFSET",
    "H_SOURCE",
    "H_TIMESTAMP",
    "REPARTITION_VERSION",
    "decode_record",
    "encode_record",
    "source_headers",
]
