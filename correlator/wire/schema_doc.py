"""Writes docs/incident.schema.json from the model: `python -m correlator.wire.schema_doc`."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from correlator.core.model import incident_json_schema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "incident.schema.json"


def render() -> bytes:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/incident-correlator/correlator/docs/incident.schema.json",
        **incident_json_schema(),
    }
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_PATH
    target.write_bytes(render())
    print(f"wrote {target}")
