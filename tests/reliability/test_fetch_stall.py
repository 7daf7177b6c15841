"""A consumer far behind on a log of many small record batches, on a real broker (Tansu).

Tansu answers a fetch with no records when reading them takes longer than the fetch's
`max_wait_ms`, and its in-memory log reads slower the more batches it holds. The soak (a paced
producer: a few records per batch) stalled the worker this way about a minute in: its fetches
came back empty for ever while the high watermark grew. The worker's consumer must lengthen its
fetch wait while that happens and read everything. The confluent consumer (librdkafka) cannot
change its wait while running: it must at least say so, and read everything with a longer one.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.admin import KafkaTopicAdmin
from correlator.worker.kafka.client import KafkaGroupConsumer
from correlator.worker.kafka.confluent_consumer import ConfluentGroupConsumer
from correlator.worker.kafka.lib import KafkaProducer
from correlator.worker.ports import Consumer, TopicSpec
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


def _backlog(bootstrap: str, names: KafkaNames, tmp_path: Path) -> str:
    """The alerts topic of `names`, holding BATCHES single-record batches."""
    admin = KafkaTopicAdmin(
        WorkerConfig.model_validate(worker_settings(bootstrap, names, write_org(tmp_path)))
    )
    try:
        admin.ensure_topics([TopicSpec(names.alerts, 1)])
    finally:
        admin.close()
    _produce_small_batches(bootstrap, names.alerts, BATCHES)
    return names.alerts


def _config(
    bootstrap: str, names: KafkaNames, tmp_path: Path, wait_ms: int, group: str
) -> WorkerConfig:
    settings = worker_settings(
        bootstrap, names, write_org(tmp_path), kafka={"fetch_max_wait_ms": wait_ms}
    )
    settings["group_id"] = group
    return WorkerConfig.model_validate(settings)


def _read_all(consumer: Consumer, seconds: float) -> int:
    offsets: set[int] = set()
    deadline = time.monotonic() + seconds
    while len(offsets) < BATCHES and time.monotonic() < deadline:
        offsets.update(m.offset for m in consumer.poll(0.1, 2000))
    return len(offsets)


@pytest.mark.fault("consumer far behind on a log of many small batches (empty fetches)", tries=1)
def test_consumer_reads_a_backlog_of_small_batches(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    topic = _backlog(kafka_bootstrap, kafka_names, tmp_path)
    config = _config(kafka_bootstrap, kafka_names, tmp_path, 10, kafka_names.group_id)
    consumer = KafkaGroupConsumer(config, [topic])
    try:
        read = _read_all(consumer, 60)
        assert read == BATCHES, f"read {read} of {BATCHES} records in 60 s"
        # Caught up: the configured wait is back (it bounds a quiet partition's latency).
        for _ in range(5):
            consumer.poll(0.1, 2000)
        assert consumer.fetch_wait_ms == 10
    finally:
        consumer.close()


@pytest.mark.fault(
    "confluent consumer far behind on a log of many small batches (empty fetches)", tries=1
)
def test_confluent_consumer_warns_of_the_stall_and_reads_with_a_longer_wait(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    topic = _backlog(kafka_bootstrap, kafka_names, tmp_path)
    short = ConfluentGroupConsumer(
        _config(kafka_bootstrap, kafka_names, tmp_path, 10, f"{kafka_names.group_id}-short"),
        [topic],
    )
    with caplog.at_level(logging.WARNING, "correlator.worker.kafka.confluent_consumer"):
        try:
            read = _read_all(short, 30)
        finally:
            short.close()
    warned = [r for r in caplog.records if "fetches return nothing while behind" in r.message]
    # A broker that answers as soon as records exist (Apache Kafka) reads them all; Tansu
    # stalls, and then the consumer must have said so rather than sit silently behind.
    assert read == BATCHES or warned, f"read {read} of {BATCHES} in 30 s and logged nothing"
    long = ConfluentGroupConsumer(
        _config(kafka_bootstrap, kafka_names, tmp_path, 1_000, f"{kafka_names.group_id}-long"),
        [topic],
    )
    try:
        read = _read_all(long, 90)
    finally:
        long.close()
    assert read == BATCHES, f"read {read} of {BATCHES} records in 90 s with a 1 s wait"
