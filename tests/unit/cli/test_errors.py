"""Every failure a user can fix: one line on stderr, a documented exit code, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from correlator import __version__
from correlator.cli import main
from correlator.cli_errors import ExitCode
from correlator.demo import demo_events

EXAMPLES = str(Path(__file__).resolve().parents[3] / "topology" / "examples")


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(demo_events()) + b"\n")
    return path


@pytest.fixture(autouse=True)
def _no_worker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` reads CORRELATOR_* variables; the tests must not see the caller's."""
    for name in list(os.environ):
        if name.startswith("CORRELATOR_"):
            monkeypatch.delenv(name)


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], code: ExitCode) -> str:
    """Run the command; assert the exit code and a single stderr line; return that line."""
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    assert "pydantic" not in captured.err  # its URLs explain pydantic, not our settings
    return lines[0]


def _replay(events: Path | str, output: Path | str = "-", *extra: str) -> list[str]:
    return ["replay", "--input", str(events), "--output", str(output), *extra]


def test_missing_input_is_a_data_error_and_leaves_the_output_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"keep me\n")
    line = _fails(_replay(tmp_path / "missing.jsonl", out), capsys, ExitCode.DATA)
    assert (
        line == f"correlator replay: input {tmp_path / 'missing.jsonl'}: No such file or directory"
    )
    assert out.read_bytes() == b"keep me\n"


def test_a_directory_as_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _fails(_replay(tmp_path), capsys, ExitCode.DATA)
    assert line.startswith(f"correlator replay: input {tmp_path}: ")


def test_unwritable_output(
    events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = tmp_path / "no-such-dir" / "out.jsonl"
    line = _fails(_replay(events, nowhere), capsys, ExitCode.DATA)
    assert line == f"correlator replay: output {nowhere}: No such file or directory"
    line = _fails(_replay(events, tmp_path), capsys, ExitCode.DATA)
    assert line.startswith(f"correlator replay: output {tmp_path}: ")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("grouping: {max_hops: [\n", "not valid YAML"),
        ("grouping: {max_hops: lots}\n", "grouping.max_hops: Input should be a valid integer"),
        ("- just\n- a list\n", "must be a mapping"),
        ("groupin: {max_hops: 3}\n", "groupin: Extra inputs are not permitted"),
    ],
)
def test_bad_rules_file_is_a_config_error(
    events: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    expected: str,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(content)
    line = _fails(_replay(events, "-", "--rules", str(rules)), capsys, ExitCode.CONFIG)
    assert line.startswith(f"correlator replay: rules file {rules}: ")
    assert expected in line


def test_missing_rules_file(
    events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "rules.yaml"
    line = _fails(_replay(events, "-", "--rules", str(missing)), capsys, ExitCode.CONFIG)
    assert line == f"correlator replay: rules file {missing}: No such file or directory"


def test_bad_topology_path_and_invalid_topology(
    events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    line = _fails(_replay(events, "-", "--topology", str(missing)), capsys, ExitCode.DATA)
    assert line.startswith(f"correlator replay: topology {missing}: invalid topology")
    assert "no such file or directory" in line
    broken = tmp_path / "broken.yaml"
    broken.write_text("nodes: [\n")  # YAML's own message spans lines: folded into one
    line = _fails(_replay(events, "-", "--topology", str(broken)), capsys, ExitCode.DATA)
    assert "cannot read" in line


def test_a_long_list_of_topology_problems_is_cut_to_one_line(
    events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    nodes = "".join(f"  - {{id: n{i}, kind: service, depends_on: [ghost{i}]}}\n" for i in range(6))
    bad.write_text("nodes:\n" + nodes)
    line = _fails(_replay(events, "-", "--topology", str(bad)), capsys, ExitCode.DATA)
    assert "invalid topology (6 problems)" in line
    assert "ghost0" in line and "ghost5" not in line
    assert "and 3 more (`correlator topology check` lists them all)" in line
    # ... which it does, one problem a line after its heading.
    assert main(["topology", "check", str(bad)]) == ExitCode.DATA
    report = capsys.readouterr().err.splitlines()
    assert len(report) == 7 and "ghost5" in report[-1]


def test_impact_of_an_unknown_node(capsys: pytest.CaptureFixture[str]) -> None:
    line = _fails(["topology", "impact", EXAMPLES, "no-such-node"], capsys, ExitCode.DATA)
    assert line == f"correlator topology impact: {EXAMPLES}: no node or alias named 'no-such-node'"


def test_run_refuses_to_start_without_a_topology(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _fails(["run"], capsys, ExitCode.CONFIG)
    assert "no topology given" in line and "CORRELATOR_TOPOLOGY" in line
    config = tmp_path / "worker.yaml"
    config.write_text("group_id: g1\n")  # a config file that names none is refused alike
    line = _fails(["run", "--config", str(config)], capsys, ExitCode.CONFIG)
    assert "no topology given" in line


def test_run_with_a_topology_path_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORRELATOR_TOPOLOGY", str(tmp_path / "nowhere"))
    line = _fails(["run"], capsys, ExitCode.DATA)
    assert line == f"correlator run: topology {tmp_path / 'nowhere'}: no such file or directory"


def test_run_with_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "worker.yaml"
    line = _fails(["run", "--config", str(missing)], capsys, ExitCode.CONFIG)
    assert line.startswith(f"correlator run: {missing}: cannot read")
    missing.write_text("http_port: not-a-port\nbogus: 1\n")
    line = _fails(["run", "--config", str(missing)], capsys, ExitCode.CONFIG)
    assert "http_port" in line and "bogus" in line


def test_run_with_a_bad_rules_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("lifecycle: {hold_down: soon}\n")
    monkeypatch.setenv("CORRELATOR_TOPOLOGY", EXAMPLES)
    monkeypatch.setenv("CORRELATOR_RULES", str(rules))
    line = _fails(["run"], capsys, ExitCode.CONFIG)
    assert line.startswith(f"correlator run: rules file {rules}: lifecycle.hold_down")


def test_version_and_bare_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == ExitCode.OK
    assert capsys.readouterr().out == f"correlator {__version__}\n"
    assert main([]) == ExitCode.OK
    text = capsys.readouterr().out
    assert text.startswith("usage: correlator") and "replay" in text and "Exit codes" in text
    assert main(["topology"]) == ExitCode.OK
    assert "impact" in capsys.readouterr().out


def test_usage_errors_keep_argparse_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--input", "x"]) == ExitCode.USAGE
    assert "required: --output" in capsys.readouterr().err
    assert main(["no-such-command"]) == ExitCode.USAGE


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("grouping: {max_hops: [\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRELATOR_")}
    cases = [
        (["replay", "--input", str(tmp_path / "missing"), "--output", "-"], ExitCode.DATA),
        (["replay", "--rules", str(rules), "--input", "-", "--output", "-"], ExitCode.CONFIG),
        (["run"], ExitCode.CONFIG),
    ]
    for argv, code in cases:
        done = subprocess.run(
            [sys.executable, "-m", "correlator.cli", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert done.returncode == code, done.stderr
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
