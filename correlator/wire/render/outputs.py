"""Output formats by name: what an output (topic + format) in the worker config selects.

Every renderer is a pure function of the incident record, returning the Kafka message value
and headers; the Kafka key is the incident id in every format (compaction and ordering).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from correlator.core.model import IncidentRecord
from correlator.errors import CorrelatorError
from correlator.wire.render.cloudevents import render_binary, render_structured
from correlator.wire.render.pagerduty import render_pagerduty
from correlator.wire.render.servicenow import render_servicenow

Headers = list[tuple[str, bytes]]
Renderer = Callable[[IncidentRecord], tuple[bytes, Headers]]

#: The header the native record has always carried; every format carries it.
VERSION_HEADER = "correlator.version"
DEFAULT_FORMAT = "native"


class UnknownOutputFormatError(CorrelatorError, ValueError):
    """A config names an output format this version does not have."""


def _render_native(record: IncidentRecord) -> tuple[bytes, Headers]:
    return record.to_json(), []


RENDERERS: Mapping[str, Renderer] = MappingProxyType(
    {
        "native": _render_native,
        "cloudevents": render_structured,
        "cloudevents-binary": render_binary,
        "servicenow": render_servicenow,
        "pagerduty": render_pagerduty,
    }
)
OUTPUT_FORMATS: tuple[str, ...] = tuple(RENDERERS)


def check_output_format(name: str) -> str:
    """`name` if it is a known format, else an error listing them (for config validation)."""
    if name not in RENDERERS:
        raise UnknownOutputFormatError(
            f"unknown output format {name!r}; choose one of {', '.join(OUTPUT_FORMATS)}"
        )
    return name


def render_output(format_name: str, record: IncidentRecord) -> tuple[bytes, Headers]:
    """The Kafka value and headers publishing `record` in `format_name`."""
    value, headers = RENDERERS[check_output_format(format_name)](record)
    return value, [(VERSION_HEADER, str(record.version).encode()), *headers]
