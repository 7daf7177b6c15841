"""CloudEvents 1.0 renderings of the incident record, for the Kafka protocol binding.

Two content modes, both carrying the native record (docs/formats.md, the record) as the event data:

* structured: the whole event is one JSON object (`application/cloudevents+json`) in the
  message value; consumers that only read values see every attribute;
* binary: the value is the native record unchanged and the attributes travel as `ce_*` headers,
  so a consumer of the native format can read the same topic without knowing CloudEvents.

`id` is `<incident id>:<version>`: CloudEvents requires `source` + `id` to be unique per event,
and each published version is a distinct event. The Kafka key stays the incident id, which the
binding reads back as the `partitionkey` extension.
"""

from __future__ import annotations

from typing import Final

import orjson

from correlator.core.model import IncidentRecord, rfc3339

SPECVERSION: Final = "1.0"
#: A URI reference naming the producer; consumers filter on it.
SOURCE: Final = "/incident-correlator"
TYPE_PREFIX: Final = "io.incident-correlator.incident."
DATA_CONTENT_TYPE: Final = "application/json"
STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json; charset=UTF-8"

Headers = list[tuple[str, bytes]]


def event_type(record: IncidentRecord) -> str:
    """`opened` for the first version, `resolved`, `merged`, else `updated`."""
    if record.status == "resolved":
        return TYPE_PREFIX + "resolved"
    if record.status == "merged":
        return TYPE_PREFIX + "merged"
    return TYPE_PREFIX + ("opened" if record.version == 1 else "updated")


def attributes(record: IncidentRecord) -> dict[str, str]:
    """The context attributes of the event that publishes `record` (all strings)."""
    time = rfc3339(record.updated_at)
    assert time is not None  # updated_at is required
    return {
        "specversion": SPECVERSION,
        "id": f"{record.id}:{record.version}",
        "source": SOURCE,
        "type": event_type(record),
        "subject": record.id,
        "time": time,
        "datacontenttype": DATA_CONTENT_TYPE,
    }


def render_structured(record: IncidentRecord) -> tuple[bytes, Headers]:
    event: dict[str, object] = dict(attributes(record))
    # Embedded as JSON (not a string) because datacontenttype is application/json.
    event["data"] = record.model_dump(mode="json", by_alias=True)
    return orjson.dumps(event), [("content-type", STRUCTURED_CONTENT_TYPE.encode())]


def render_binary(record: IncidentRecord) -> tuple[bytes, Headers]:
    headers: Headers = []
    for name, value in attributes(record).items():
        # The binding maps datacontenttype to the plain content-type header, not ce_.
        key = "content-type" if name == "datacontenttype" else f"ce_{name}"
        headers.append((key, value.encode()))
    return record.to_json(), headers
