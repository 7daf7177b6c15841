"""The reliability suite: every fault and bad-input class the worker must survive.

Each test is marked `@pytest.mark.fault(name, tries=N)`; at the end of the session the outcome
of every marked test (held, or failed) is written as JSON to `$CORRELATOR_RELIABILITY_REPORT`
(default `build/reliability.json`), which `python -m tests.reliability.report` renders as the
table in RELIABILITY.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

REPO = Path(__file__).resolve().parents[2]
_RESULTS: list[dict[str, Any]] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault(name, tries): the fault or bad-input class a reliability test tries"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("fault")
    if marker is None or report.when != "call":
        return
    _RESULTS.append(
        {
            "fault": marker.args[0],
            "tries": int(marker.kwargs.get("tries", 1)),
            "test": item.nodeid,
            "result": "held" if report.passed else ("skipped" if report.skipped else "failed"),
            "seconds": round(report.duration, 2),
        }
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _RESULTS:
        return
    path = Path(os.environ.get("CORRELATOR_RELIABILITY_REPORT", REPO / "build/reliability.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(_RESULTS, option=orjson.OPT_INDENT_2))
