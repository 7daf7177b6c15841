"""Metric conventions (issue 12) and the process metrics of issue 10 on the worker side."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from correlator.worker.metrics import EngineCounters, Metrics
from tests.support.scenario import outages
from tests.unit.worker.conftest import Harness


def _families(metrics: Metrics) -> dict[str, list[str]]:
    text = generate_latest(metrics.registry).decode()
    return {f.name: [s.name for s in f.samples] for f in text_string_to_metric_families(text)}


def test_standard_collectors_no_created_series_and_no_dimension_in_names() -> None:
    metrics = Metrics()
    metrics.dead_letters.labels(reason="not_json").inc()
    metrics.resolve_time.labels(priority="2", assignment_group="network").observe(600)
    families = _families(metrics)
    assert "process_cpu_seconds" in families  # the parser drops `_total` from family names
    assert "process_resident_memory_bytes" in families
    assert "python_info" in families
    assert "python_gc_objects_collected" in families
    samples = [s for names in families.values() for s in names]
    assert not [s for s in samples if s.endswith("_created")]
    assert not [name for name in families if "_by_" in name]
    assert "correlator_open_incidents_by_group" not in families
    # The summing gauge is gone: the desk collector counts people once (distinct).
    assert "correlator_people_affected" not in families
    text = generate_latest(metrics.registry).decode()
    assert 'correlator_build_info{python="' in text and 'version="' in text


def test_two_registries_each_get_the_standard_collectors() -> None:
    # Each test (and each worker of a process) has its own registry: no duplicate errors.
    first, second = Metrics(), Metrics()
    assert "process_cpu_seconds" in _families(first)
    assert "process_cpu_seconds" in _families(second)


class _Counting:
    def __init__(self, **counters: int) -> None:
        self.counters: Mapping[str, int] = dict(counters)


def test_engine_counters_count_growth_per_engine_across_rebalances() -> None:
    metrics = Metrics()
    tracker: EngineCounters = metrics.engine_counters
    value = metrics.registry.get_sample_value
    a = _Counting(incidents_reopened=5, incidents_repeated=2)
    b = _Counting()  # an engine without the counters yet: counts nothing, fails nothing
    tracker.observe([a, b, object()])
    assert value("correlator_incidents_reopened_total") == 0  # restored values: a baseline
    a.counters = {"incidents_reopened": 7, "incidents_repeated": 2}
    b.counters = {"incidents_repeated": 1}
    tracker.observe([a, b])
    assert value("correlator_incidents_reopened_total") == 2
    assert value("correlator_incidents_repeated_total") == 0  # b's first sight of the name
    b.counters = {"incidents_repeated": 4}
    tracker.observe([a, b])
    assert value("correlator_incidents_repeated_total") == 3
    # a moves away and comes back restored with a smaller value: a new baseline, no decrease.
    tracker.observe([b])
    a2 = _Counting(incidents_reopened=1)
    tracker.observe([a2, b])
    a2.counters = {"incidents_reopened": 2}
    tracker.observe([a2, b])
    assert value("correlator_incidents_reopened_total") == 3


def test_resolve_time_by_priority_and_group_and_topology_reload_gauge(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    worker = harness.worker()
    value = worker.metrics.registry.get_sample_value
    assert value("correlator_topology_last_reload_successful") == 1
    harness.produce(outages(seed=3, faults=3))
    harness.run()
    harness.drain()
    resolved = [m for m in harness.final().values() if m.status == "resolved"]
    assert resolved
    for record in resolved:
        labels = {
            "priority": str(record.priority),
            "assignment_group": record.assignment_group or "none",
        }
        assert (value("correlator_incident_resolve_seconds_count", labels) or 0) >= 1
    harness.topology_path.write_text("not: [a topology")
    assert worker.reload_topology() is False
    assert value("correlator_topology_last_reload_successful") == 0
