"""End to end with an independent client: librdkafka (confluent-kafka) produces Alertmanager
webhooks as a real Alertmanager -> Kafka bridge would, and reads the incidents topic; the
records must be docs/formats.md, the record on the wire."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from correlator.core.model import SCHEMA_ID, IncidentRecord
from tests.conftest import KafkaNames
from tests.support.live import WorkerThread, wait_for, worker_settings
from tests.support.scenario import write_org

confluent_kafka = pytest.importorskip("confluent_kafka")

pytestmark = pytest.mark.kafka

REQUIRED = {
    "schema", "id", "version", "status", "title", "summary", "opened_at", "updated_at",
    "resolved_at", "root_cause", "candidates", "alerts", "affected", "impact", "urgency",
    "priority", "assignment_group", "next_update_at", "cost", "unmapped",
}  # fmt: skip


def _webhook(alerts: list[dict[str, Any]], status: str) -> bytes:
    return orjson.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="NodeDown"}',
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "kafka-bridge",
            "groupLabels": {"alertname": "NodeDown"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
    )


def _alert(node: str, start: datetime, end: datetime | None) -> dict[str, Any]:
    def ts(at: datetime) -> str:
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    return {
        "status": "resolved" if end else "firing",
        "labels": {"alertname": "NodeDown", "instance": f"{node}:9100", "severity": "critical"},
        "annotations": {"summary": f"{node} is down"},
        "startsAt": ts(start),
        "endsAt": ts(end) if end else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": uuid.uuid5(uuid.NAMESPACE_DNS, node).hex[:16],
    }


def test_alertmanager_webhooks_in_contract_records_out(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    org = write_org(tmp_path)
    settings = worker_settings(
        kafka_bootstrap,
        kafka_names,
        org,
        # Live time: idle engines tick every second, so the hold-down passes by wall clock
        # (sped up 600x: the 5-minute hold-down takes half a second).
        tick_interval="1s",
        idle_clock_rate=600,
    )
    worker = WorkerThread(settings).start()
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"{kafka_names.prefix}-desk",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            # Tansu delays a group's first join by half the session timeout.
            "session.timeout.ms": 6000,
        }
    )
    try:
        worker.wait_ready()
        producer = confluent_kafka.Producer({"bootstrap.servers": kafka_bootstrap})
        now = datetime.now(UTC).replace(microsecond=0)
        start = now - timedelta(minutes=2)
        firing = [_alert("core-w", start, None), _alert("web-w1", start, None)]
        producer.produce(kafka_names.alerts, _webhook(firing, "firing"))
        producer.flush(10)
        time.sleep(0.5)
        resolved = [_alert("core-w", start, now), _alert("web-w1", start, now)]
        producer.produce(kafka_names.alerts, _webhook(resolved, "resolved"))
        assert producer.flush(10) == 0

        consumer.subscribe([kafka_names.incidents])
        records: list[tuple[bytes, dict[str, Any]]] = []

        def resolved_seen() -> bool:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                records.append((message.key(), orjson.loads(message.value())))
            return any(r["status"] == "resolved" for _, r in records)

        wait_for(resolved_seen, 60, "a resolved incident on the incidents topic")
        ids = {r["id"] for _, r in records}
        assert len(ids) == 1, "two alerts of one fault make one incident"
        versions = [r["version"] for _, r in records]
        assert versions == sorted(versions) and versions[0] == 1
        for key, record in records:
            assert key == record["id"].encode()
            assert set(record) >= REQUIRED
            assert record["schema"] == SCHEMA_ID
            assert record["opened_at"].endswith("Z")
            IncidentRecord.model_validate(record)
        final = records[-1][1]
        assert final["status"] == "resolved"
        assert final["root_cause"]["node"] == "core-w"
        assert final["affected"]["users"] == 80
        assert {a["node"] for a in final["alerts"]} == {"core-w", "web-w1"}
    finally:
        consumer.close()
        worker.stop()
