"""Incident records made by the real engine from the bundled demo outage, for the desk."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import pytest

from correlator.core.model import IncidentRecord
from correlator.demo import demo_events
from correlator.desk.view import DeskView
from correlator.replay import replay_lines
from topology import Topology, load_example


def demo_records(events: int) -> list[IncidentRecord]:
    """Every version published for the first `events` demo messages (incidents stay open)."""
    return replay_lines(load_example(), None, demo_events()[:events], drain=False)


def fill(view: DeskView, records: list[IncidentRecord]) -> DeskView:
    for record in records:
        view.apply(record.id.encode(), record.to_json())
    return view


def by_title(records: list[IncidentRecord], words: str) -> IncidentRecord:
    return [r for r in records if words in r.title][-1]


@pytest.fixture(scope="session")
def topology() -> Topology:
    return load_example()


@pytest.fixture
def records() -> list[IncidentRecord]:
    """The WAN outage (Dallas cannot work) and the Dallas file-server warning (at risk)."""
    return demo_records(4)


@pytest.fixture
def view(records: list[IncidentRecord]) -> DeskView:
    return fill(DeskView(), records)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
