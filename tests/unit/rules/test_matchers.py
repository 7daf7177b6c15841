"""Alertmanager matcher syntax and semantics, checked against `amtool` on the same strings.

`amtool config routes` prints each route's parsed matchers in Alertmanager's own rendering, and
`amtool config routes test` says whether a label set matches; both run offline on a config file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from correlator.core.settings import Silence
from correlator.rules.matchers import (
    MatcherError,
    format_matchers,
    make_matcher,
    matchers_from,
    parse_matchers,
)
from correlator.rules.suppression import compile_silences, muted_by

AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool not installed (apt-get install prometheus-alertmanager)"
)

VALID = [
    '{alertname="x", severity=~"crit.*"}',
    'alertname="DiskFull"',
    'env!="prod"',
    'job!~"test.*|staging"',
    'msg="say \\"hi\\"\\n"',
    "x=y\\z",
    "  env  =  prod  ",
    '{a="1,2", b=~"x,y"}',
    'path=~"C:\\\\temp\\\\.*"',
    "a=b\\",
    'a=""',
    '{a="x",}',
    'team="équipe"',
    'instance=~"db-[0-9]+\\\\.example\\\\.com:9100"',
    'b=~"\\d+"',
]
INVALID = [
    'a="b',
    'a="b"c"',
    'a=~"("',
    '1a="b"',
    'a=="b"',
    '{a="b",,c="d"}',
    ' {a="b"}',
    "alertname",
]


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


def _config(path: Path, matcher_sets: list[str]) -> Path:
    routes = [{"receiver": f"r{i}", "matchers": [text]} for i, text in enumerate(matcher_sets)]
    config = {
        "route": {"receiver": "miss", "routes": routes},
        "receivers": [{"name": "miss"}] + [{"name": f"r{i}"} for i in range(len(routes))],
        # The same strings in inhibit rules, which check-config parses too.
        "inhibit_rules": [
            {"source_matchers": [text], "target_matchers": ['severity="warning"']}
            for text in matcher_sets
        ],
    }
    path.write_text(json.dumps(config))  # JSON is YAML: no quoting surprises
    return path


@needs_amtool
def test_parsing_agrees_with_amtool(tmp_path: Path) -> None:
    config = _config(tmp_path / "am.yml", VALID)
    assert _amtool("check-config", str(config)).returncode == 0
    shown = _amtool("config", "routes", f"--config.file={config}")
    assert shown.returncode == 0, shown.stderr
    theirs: dict[str, str] = {}
    for line in shown.stdout.splitlines():
        hit = re.search(r"(\{.*\})\s+receiver: (r\d+)$", line)
        if hit:
            theirs[hit.group(2)] = hit.group(1)
    assert len(theirs) == len(VALID)
    for i, text in enumerate(VALID):
        assert format_matchers(parse_matchers(text)) == theirs[f"r{i}"], text


@needs_amtool
@pytest.mark.parametrize("text", INVALID)
def test_refused_by_both(tmp_path: Path, text: str) -> None:
    result = _amtool("check-config", str(_config(tmp_path / "am.yml", [text])))
    assert result.returncode != 0, f"amtool accepted {text!r}"
    with pytest.raises(MatcherError):
        parse_matchers(text)


SEMANTICS = [
    ('severity=~"crit.*"', {"severity": "critical"}),
    ('severity=~"crit.*"', {"severity": "xcritical"}),
    ('severity=~"crit"', {"severity": "critical"}),
    ('env!="prod"', {}),
    ('env!="prod"', {"env": "prod"}),
    ('env=""', {}),
    ('env!~".+"', {}),
    ('env!~".+"', {"env": "dev"}),
    ('a=~"b|c"', {"a": "c"}),
    ('a=~"b|c"', {"a": "bc"}),
    ('a=~".*"', {}),
    ('a=~"x.y"', {"a": "x\ny"}),
    ('a=~"x.y"', {"a": "xzy"}),
    ('msg="line\\nbreak"', {"msg": "line\nbreak"}),
    ('{alertname="x", severity=~"crit.*"}', {"alertname": "x", "severity": "crit"}),
    ('{alertname="x", severity=~"crit.*"}', {"alertname": "y", "severity": "crit"}),
    ('a=~"C:\\\\\\\\temp"', {"a": "C:\\temp"}),
]


@needs_amtool
@pytest.mark.parametrize(("text", "labels"), SEMANTICS)
def test_matching_agrees_with_amtool(tmp_path: Path, text: str, labels: dict[str, str]) -> None:
    config = _config(tmp_path / "am.yml", [text])
    # amtool reads each label as an `=` matcher, so values go in Alertmanager's escaping.
    args = [str(make_matcher(k, "=", v)) for k, v in labels.items()] or ['dummy="1"']
    result = _amtool("config", "routes", "test", f"--config.file={config}", *args)
    assert result.returncode == 0, result.stderr
    theirs = result.stdout.strip() == "r0"
    ours = all(m.matches(labels) for m in parse_matchers(text))
    assert ours == theirs, (text, labels, result.stdout)


def test_semantics_without_amtool() -> None:
    # The same rules, for machines without amtool: anchored, absent == "".
    assert not parse_matchers('severity=~"crit"')[0].matches({"severity": "critical"})
    assert parse_matchers('env!="prod"')[0].matches({})
    assert not parse_matchers('a=~"x.y"')[0].matches({"a": "x\ny"})
    assert parse_matchers('a=~"x.y"')[0].matches({"a": "xzy"})
    assert parse_matchers('msg="say \\"hi\\""')[0].value == 'say "hi"'
    assert parse_matchers("b=~\\d+")[0].matches({"b": "42"})
    assert parse_matchers('k8s.pod-name="x"')[0].name == "k8s.pod-name"  # our extension


def test_every_form_of_a_silence() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    forms: list[str | list[str] | dict[str, str]] = [
        '{alertname="DiskFull", env=~"prod|staging"}',
        ['{alertname="DiskFull"}', 'env=~"prod|staging"'],
        ['alertname="DiskFull"', 'env=~"prod|staging"'],
    ]
    for form in forms:
        matchers = matchers_from(form)
        assert format_matchers(matchers) == '{alertname="DiskFull",env=~"prod|staging"}'
    silence = Silence(id="s1", matchers=['{alertname="DiskFull", env=~"prod|staging"}'])
    legacy = Silence(id="s2", matchers={"alertname": "CpuHigh"})
    compiled = compile_silences([silence, legacy], [])
    assert muted_by(compiled, "DiskFull", {"env": "prod"}, None, now) == "silence:s1"
    assert muted_by(compiled, "DiskFull", {"env": "production"}, None, now) is None
    assert muted_by(compiled, "CpuHigh", {}, None, now) == "silence:s2"
    with pytest.raises(MatcherError):
        compile_silences([Silence(matchers=['a="b'])], [])
