"""The internal repartition record: what stage 1 (decode and route) hands to stage 2 (correlate).

Value: `{"v": 1, "alerts": [...]}`, every alert of one input message bound for one partition;
headers: where the alerts came from, for de-duplication after a crash and for latency.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, TypeAdapter

from correlator.core.model import Alert
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


class RepartitionRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: int = REPARTITION_VERSION
    alerts: list[Alert]


# Serialised and parsed by pydantic-core in one call each: per alert, going through Python
# dicts (dump, orjson, loads, validate) cost several times more.
_ALERTS = TypeAdapter(list[Alert])
_RECORD_HEAD = b'{"v":%d,"alerts":' % REPARTITION_VERSION


def encode_record(alerts: Sequence[Alert]) -> bytes:
    return _RECORD_HEAD + _ALERTS.dump_json(list(alerts)) + b"}"


def decode_record(value: bytes | None) -> list[Alert]:
    """Raises pydantic's ValidationError (a ValueError) for a record it cannot read."""
    return RepartitionRecord.model_validate_json(value or b"null").alerts


__all__ = [
    "H_OFFSET",
    "H_SOURCE",
    "H_TIMESTAMP",
    "REPARTITION_VERSION",
    "decode_record",
    "encode_record",
    "source_headers",
]
