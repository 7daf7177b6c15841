from correlator.wire.schema_doc import SCHEMA_PATH, render


def test_committed_schema_matches_the_model() -> None:
    assert SCHEMA_PATH.read_bytes() == render(), (
        "docs/incident.schema.json is out of date: run `python -m correlator.wire.schema_doc`"
    )
