"""`/metrics` is valid for promtool, and a real Prometheus scrapes the worker."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import orjson
import pytest

from correlator.demo.broker import free_port
from tests.conftest import KafkaNames
from tests.support.live import (
    Collector,
    WorkerThread,
    http_get,
    produce_lines,
    wait_for,
    worker_settings,
)
from tests.support.scenario import outages, with_bad_messages, write_org

pytestmark = [pytest.mark.kafka]

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")


@pytest.fixture
def busy_worker(kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path):  # type: ignore[no-untyped-def]
    org = write_org(tmp_path)
    worker = WorkerThread(worker_settings(kafka_bootstrap, kafka_names, org)).start()
    collector = Collector(kafka_bootstrap, kafka_names.incidents)
    try:
        worker.wait_ready()
        lines = outages(seed=51, faults=6)
        produce_lines(kafka_bootstrap, kafka_names.alerts, with_bad_messages(lines, seed=51))
        wait_for(lambda: len(collector.final()) >= 6, 30, "incidents")
        yield worker
    finally:
        collector.close()
        worker.stop()


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")
def test_metrics_pass_promtool_check_metrics(busy_worker: WorkerThread) -> None:
    code, body = http_get(busy_worker.port, "/metrics")
    assert code == 200
    for name in (
        b"correlator_events_consumed_total",
        b"correlator_dead_letters_total",
        b"correlator_processing_duration_seconds_bucket",
        b"correlator_event_age_seconds_bucket",
        b"correlator_end_to_end_latency_seconds_bucket",
        b"correlator_active_alerts",
        b'correlator_engine_held{kind="tombstones"}',
        b"correlator_open_incidents{",
        b"correlator_incident_updates_published_total",
        b"correlator_consumer_lag{",
        b"correlator_topology_nodes",
        b"correlator_topology_last_reload_timestamp_seconds",
        b"correlator_topology_reload_failures_total",
        b"correlator_state_restore_duration_seconds_bucket",
        b"correlator_build_info",
        b"correlator_topology_last_reload_successful 1.0",
        b"process_cpu_seconds_total",
        b"python_info{",
        b"correlator_user_time_lost_seconds_total",
        b"correlator_incident_resolve_seconds_bucket",
        b"correlator_desk_people_affected{",
    ):
        assert name in body, name
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


@pytest.mark.skipif(
    PROMETHEUS is None, reason="prometheus not installed (apt-get install prometheus)"
)
def test_a_real_prometheus_scrapes_the_worker(busy_worker: WorkerThread, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: correlator\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{busy_worker.port}']}}]\n"
    )
    assert PROMETHEUS is not None
    with (tmp_path / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )

    def query(expr: str) -> list[dict[str, object]]:
        code, body = http_get(port, "/api/v1/query?query=" + urllib.parse.quote(expr))
        if code != 200:
            return []
        result: list[dict[str, object]] = orjson.loads(body)["data"]["result"]
        return result

    try:
        started = time.monotonic()
        wait_for(lambda: bool(query('up{job="correlator"} == 1')), 60, "a successful scrape")
        wait_for(lambda: bool(query("correlator_ready == 1")), 30, "correlator_ready")
        dead = query('sum(correlator_dead_letters_total{job="correlator"})')
        assert float(dead[0]["value"][1]) == 4  # type: ignore[index]
        print(f"prometheus scraped the worker {time.monotonic() - started:.1f}s after start")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
