"""The command line as a user meets it: exit codes, files, and what is printed."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from correlator.cli import main
from correlator.core.model import IncidentRecord
from correlator.demo import demo_events


def _events_file(tmp_path: Path, extra: list[bytes] | None = None) -> Path:
    path = tmp_path / "events.jsonl"
    lines = demo_events()
    lines[3:3] = extra or []
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_replay_is_byte_identical_across_runs(tmp_path: Path) -> None:
    events = _events_file(tmp_path)
    outputs = []
    for name in ("one", "two"):
        out = tmp_path / f"{name}.jsonl"
        assert main(["replay", "--input", str(events), "--output", str(out)]) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    records = [IncidentRecord.model_validate_json(line) for line in outputs[0].splitlines()]
    assert len({r.id for r in records}) == 4
    assert all(r.status == "resolved" for r in {r.id: r for r in records}.values())


def test_replay_skips_unreadable_lines_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _events_file(tmp_path, extra=[b"not json", b'{"hello": "world"}'])
    out = tmp_path / "out.jsonl"
    assert main(["replay", "--input", str(events), "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"{events}:4: skipped (not_json)" in err
    assert f"{events}:5: skipped (unknown_shape)" in err
    clean = tmp_path / "clean.jsonl"
    main(["replay", "--input", str(_events_file(tmp_path)), "--output", str(clean)])
    assert out.read_bytes() == clean.read_bytes()


def test_replay_refuses_an_invalid_topology(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes:\n  - {id: a, kind: service, depends_on: [ghost]}\n")
    events = _events_file(tmp_path)
    code = main(["replay", "--topology", str(bad), "--input", str(events), "--output", "-"])
    assert code == 3
    err = capsys.readouterr().err
    assert "ghost" in err and "bad.yaml" in err


def test_topology_check_and_impact(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topology", "check", "topology/examples"]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["topology", "impact", "topology/examples", "wan-dallas-nyc"]) == 0
    text = capsys.readouterr().out
    assert "200" in text and "Dallas" in text and "Network operations" in text
    assert main(["topology", "impact", "topology/examples", "wan-dallas-nyc", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["users"] == 200
    assert answer["sites"] == ["dallas"]
    assert main(["topology", "impact", "topology/examples", "no-such-node"]) == 3


def test_demo_tells_the_story(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    text = capsys.readouterr().out
    assert "NEW INCIDENT" in text and "RESOLVED" in text
    assert "Dallas - New York WAN circuit failure: 200 people affected" in text
    assert "Probable CRM database (PostgreSQL) failure" in text  # named before its own alert
    assert "Network operations" in text and "Next update to users due" in text


def test_demo_json_is_valid_records(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [IncidentRecord.model_validate(orjson.loads(line)) for line in lines]
    assert records and all(r.schema_ == "correlator.incident/v1" for r in records)
