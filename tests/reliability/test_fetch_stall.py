"""A consumer far behind on a log of many small record batches, on a real broker (Tansu).

Tansu answers a fetch with no records when reading them takes longer than the fetch's
`max_wait_ms`, and its in-memory log reads slower the more batches it holds. The soak (a paced
producer: a few records per batch) stalled the worker this way about a minute in: its fetches
came back empty for ever while the high watermark grew. The worker's consumer must lengthen its
fetch wait while that happens and read everything.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.admin import KafkaTopicAdmin
from correlator.worker.kafka.client import KafkaGroupConsumer
from correlator.worker.kafka.lib import KafkaProducer
from correlator.worker.ports import TopicSpec
from tests.conftest import KafkaNames
from tests.support.live import worker_settings
from tests.support.scenario import write_org

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(180)]

#: Enough single-record batches that one read from the log's start takes Tansu far longer
#: than 10 ms (the worker's default wait): before the fix this consumer read nothing, or a
#: few hundred records, in the time below.
BATCHES = 30_000
VALUE = b"x" * 900  # about the size of one Alertmanager webhook body of the soak


def _produce_small_batches(bootstrap: str, topic: str, count: int) -> None:
    # batch_size 1: every record is its own batch, as a paced producer at a low rate writes.
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=0, batch_size=1, compression_type=None
    )
    try:
        for i in range(count):
            producer.send(topic, value=VALUE, key=str(i).encode())
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=10)


@pytest.mark.fault("consumer far behind on a log of many small batches (empty fetches)", tries=1)
def test_consumer_reads_a_backlog_of_small_batches(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    topic = kafka_names.alerts
    admin = KafkaTopicAdmin(
        WorkerConfig.model_validate(
            worker_settings(kafka_bootstrap, kafka_names, write_org(tmp_path))
        )
    )
    try:
        admin.ensure_topics([TopicSpec(topic, 1)])
    finally:
        admin.close()
    _produce_small_batches(kafka_bootstrap, topic, BATCHES)
    config = WorkerConfig.model_validate(
        worker_settings(
            kafka_bootstrap, kafka_names, write_org(tmp_path), kafka={"fetch_max_wait_ms": 10}
        )
    )
    consumer = KafkaGroupConsumer(config, [topic])
    try:
        offsets: set[int] = set()
        deadline = time.monotonic() + 60
        while len(offsets) < BATCHES and time.monotonic() < deadline:
            offsets.update(m.offset for m in consumer.poll(0.1, 2000))
        assert len(offsets) == BATCHES, f"read {len(offsets)} of {BATCHES} records in 60 s"
        # Caught up: the configured wait is back (it bounds a quiet partition's latency).
        for _ in range(5):
            consumer.poll(0.1, 2000)
        assert consumer.fetch_wait_ms == 10
    finally:
        consumer.close()
