"""CloudEvents renderings read back by the official CloudEvents SDK's Kafka binding."""

from __future__ import annotations

import orjson
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, from_structured
from cloudevents.core.formats.json import JSONFormat

from correlator.core.model import IncidentRecord
from correlator.wire.render.outputs import render_output

from .conftest import with_changes


def _message(record: IncidentRecord, fmt: str) -> KafkaMessage:
    value, headers = render_output(fmt, record)
    # The worker keys every output by incident id, as the native topic is keyed.
    return KafkaMessage(headers=dict(headers), key=record.id.encode(), value=value)


@pytest.mark.parametrize("fmt", ["cloudevents", "cloudevents-binary"])
def test_sdk_reads_every_version_in_both_modes(lifecycle: list[IncidentRecord], fmt: str) -> None:
    read = from_structured if fmt == "cloudevents" else from_binary
    ids = set()
    for record in lifecycle:
        event = read(_message(record, fmt), JSONFormat())
        assert event.get_specversion() == "1.0"
        assert event.get_source() == "/incident-correlator"
        assert event.get_subject() == record.id
        assert event.get_datacontenttype() == "application/json"
        assert event.get_time() == record.updated_at
        assert event.get_extension("partitionkey") == record.id
        data = event.get_data()
        assert isinstance(data, dict)
        # The data is the native record, unchanged.
        assert IncidentRecord.model_validate(data) == record
        ids.add(event.get_id())
    assert len(ids) == len(lifecycle), "each version is a distinct event"


def test_event_types_follow_the_lifecycle(lifecycle: list[IncidentRecord]) -> None:
    types = [
        from_binary(_message(r, "cloudevents-binary"), JSONFormat()).get_type() for r in lifecycle
    ]
    assert types[0] == "io.incident-correlator.incident.opened"
    assert types[-1] == "io.incident-correlator.incident.resolved"
    assert set(types[1:-1]) <= {"io.incident-correlator.incident.updated"}
    merged = with_changes(lifecycle[0], status="merged", merged_into="other", version=9)
    event = from_structured(_message(merged, "cloudevents"), JSONFormat())
    assert event.get_type() == "io.incident-correlator.incident.merged"


def test_binary_mode_value_is_the_native_record(opened: IncidentRecord) -> None:
    native, _ = render_output("native", opened)
    value, headers = render_output("cloudevents-binary", opened)
    assert value == native
    names = [k for k, _ in headers]
    assert {"ce_specversion", "ce_id", "ce_source", "ce_type", "content-type"} <= set(names)
    assert "ce_datacontenttype" not in names
    assert all(isinstance(v, bytes) for _, v in headers)


def test_structured_mode_is_one_json_object(opened: IncidentRecord) -> None:
    value, headers = render_output("cloudevents", opened)
    assert dict(headers)["content-type"].startswith(b"application/cloudevents+json")
    event = orjson.loads(value)
    assert event["id"] == f"{opened.id}:{opened.version}"
    assert event["data"]["id"] == opened.id
