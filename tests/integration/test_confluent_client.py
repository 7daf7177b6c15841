"""`client: confluent`: the worker's outputs written by confluent-kafka (librdkafka) on a real
broker, with the same results and the same Producer port semantics as kafka-python."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from correlator.demo.broker import free_port
from correlator.worker.config import WorkerConfig, load_config
from correlator.worker.kafka.admin import KafkaTopicAdmin
from correlator.worker.kafka.client import KafkaRecordProducer
from correlator.worker.kafka.confluent import ConfluentRecordProducer
from correlator.worker.kafka.confluent_config import client_config
from correlator.worker.kafka.confluent_consumer import ConfluentGroupConsumer
from correlator.worker.kafka.tools import TopicTail
from correlator.worker.output import H_DLQ_CODE, H_DLQ_OFFSET, H_DLQ_REASON, H_DLQ_TOPIC
from correlator.worker.ports import TP, Message, ProduceError, Producer, TopicSpec
from tests.conftest import KafkaNames
from tests.support.live import Collector, WorkerThread, produce_lines, wait_for, worker_settings
from tests.support.scenario import (
    BAD_MESSAGES,
    assert_same_incidents,
    expected_final,
    outages,
    with_bad_messages,
    write_org,
)

pytestmark = pytest.mark.kafka


def _read(bootstrap: str, topic: str, count: int, timeout: float = 20) -> list[Message]:
    got: list[Message] = []
    with TopicTail(bootstrap, topic) as tail:

        def enough() -> bool:
            got.extend(tail.poll(0.2))
            return len(got) >= count

        wait_for(enough, timeout, topic)
    return got


def test_worker_with_the_confluent_producer_matches_replay(
    kafka_bootstrap: str, kafka_names: KafkaNames, tmp_path: Path
) -> None:
    org = write_org(tmp_path)
    lines = outages(seed=31, faults=12)
    mixed = with_bad_messages(lines, seed=31)
    want = expected_final(org, lines, drain=False)
    settings = worker_settings(kafka_bootstrap, kafka_names, org, client="confluent")
    worker = WorkerThread(settings).start()
    try:
        worker.wait_ready()
        assert isinstance(worker.worker.producer, ConfluentRecordProducer)
        assert isinstance(worker.worker.consumer, ConfluentGroupConsumer)
        incidents = Collector(kafka_bootstrap, kafka_names.incidents)
        try:
            produce_lines(kafka_bootstrap, kafka_names.alerts, mixed)
            assert_same_incidents(incidents.wait_final(want, timeout=60), want)
            for message in incidents.snapshot():
                assert message.key == orjson.loads(message.value or b"")["id"].encode()
        finally:
            incidents.close()
        letters = _read(kafka_bootstrap, kafka_names.dlq, len(BAD_MESSAGES))
        by_code = {dict(m.headers)[H_DLQ_CODE].decode(): m for m in letters}
        assert sorted(by_code) == sorted(BAD_MESSAGES)
        for code, letter in by_code.items():
            headers = dict(letter.headers)
            assert letter.value == BAD_MESSAGES[code]
            assert headers[H_DLQ_TOPIC] == kafka_names.alerts.encode()
            assert int(headers[H_DLQ_OFFSET]) == mixed.index(BAD_MESSAGES[code])
            assert headers[H_DLQ_REASON]
    finally:
        assert worker.stop() == 0


@pytest.mark.parametrize("client", ["kafka-python", "confluent"])
def test_producer_port_semantics(
    kafka_bootstrap: str, kafka_names: KafkaNames, client: str
) -> None:
    """Key, explicit partition, headers and timestamp arrive as sent; a record that can
    never be delivered raises at once; keyed records land where kafka-python puts them."""
    config = WorkerConfig(bootstrap_servers=kafka_bootstrap, client=client)
    topic = f"{kafka_names.prefix}-out"
    admin = KafkaTopicAdmin(config)
    admin.ensure_topics([TopicSpec(topic, 6)])
    admin.close()
    producer: Producer = (
        ConfluentRecordProducer(config) if client == "confluent" else KafkaRecordProducer(config)
    )
    try:
        keys = [f"incident-{i}".encode() for i in range(30)]
        for i, key in enumerate(keys):
            producer.send(
                topic,
                partition=None,
                key=key,
                value=b"v%d" % i,
                headers=(("a", b"1"), ("b", b"")),
                timestamp_ms=1_700_000_000_000 + i,
            )
        producer.send(topic, partition=4, key=None, value=b"placed")
        with pytest.raises(ProduceError):
            producer.send(topic, partition=None, key=b"big", value=b"x" * (5 * 1024 * 1024))
        producer.flush(30)
    finally:
        producer.close()
    got = _read(kafka_bootstrap, topic, len(keys) + 1)
    keyed = {m.key: m for m in got if m.key is not None}
    assert sorted(keyed) == sorted(keys)
    for i, key in enumerate(keys):
        m = keyed[key]
        assert (m.value, m.headers) == (b"v%d" % i, (("a", b"1"), ("b", b"")))
        assert m.timestamp_ms == 1_700_000_000_000 + i
    [placed] = [m for m in got if m.key is None]
    assert (placed.partition, placed.value) == (4, b"placed")
    assert abs(placed.timestamp_ms / 1000 - time.time()) < 60  # no timestamp given: now
    # The Java/kafka-python partitioner (murmur2) whichever client: switching clients never
    # moves a compacted key to another partition.
    # kafka-python warns on import unless worker.kafka.client (imported above) did it first.
    from kafka.partitioner.default import murmur2  # noqa: PLC0415

    for key, m in keyed.items():
        assert m.partition == (murmur2(key) & 0x7FFFFFFF) % 6


def _poll_all(consumer: ConfluentGroupConsumer, count: int) -> list[Message]:
    got: list[Message] = []

    def enough() -> bool:
        got.extend(consumer.poll(0.2, 100))
        return len(got) >= count

    wait_for(enough, 30, "records")
    return got


@pytest.mark.parametrize("commit_async", [True, False])
def test_confluent_consumer_port_semantics(
    kafka_bootstrap: str, kafka_names: KafkaNames, commit_async: bool
) -> None:
    """Joins and reports the assignment as a rebalance event; hands out records with key,
    headers and timestamp; pause holds a partition back; positions reach the log end; a
    commit (either kind) is where the group's next member starts, and close keeps it."""
    config = WorkerConfig(
        bootstrap_servers=kafka_bootstrap,
        group_id=kafka_names.group_id,
        client="confluent",
        kafka={"commit_async": commit_async, "fetch_max_wait_ms": 10},
    )
    topic = f"{kafka_names.prefix}-in"
    admin = KafkaTopicAdmin(config)
    admin.ensure_topics([TopicSpec(topic, 2)])
    admin.close()
    producer = ConfluentRecordProducer(config)
    for i in range(10):
        producer.send(
            topic,
            partition=i % 2,
            key=b"k%d" % i,
            value=b"v%d" % i,
            headers=(("h", b"x"),),
            timestamp_ms=1_700_000_000_000 + i,
        )
    producer.flush(30)
    consumer = ConfluentGroupConsumer(config, [topic])
    try:
        consumer.pause([TP(topic, 1)])  # not assigned yet: ignored
        got = _poll_all(consumer, 10)
        events = consumer.take_rebalance_events()
        assert events.assigned == {TP(topic, 0), TP(topic, 1)} and events.generations == 1
        assert consumer.assignment() == frozenset(events.assigned)
        assert sorted(m.value or b"" for m in got) == sorted(b"v%d" % i for i in range(10))
        first = min(got, key=lambda m: m.timestamp_ms)
        assert (first.key, first.headers, first.timestamp_ms) == (
            b"k0",
            (("h", b"x"),),
            1_700_000_000_000,
        )
        positions = consumer.positions()
        assert positions[TP(topic, 0)] == (5, 5) and positions[TP(topic, 1)] == (5, 5)
        consumer.pause([TP(topic, 1)])
        for i in range(4):
            producer.send(topic, partition=i % 2, key=None, value=b"w%d" % i)
        producer.flush(30)
        held = _poll_all(consumer, 2)
        assert {m.partition for m in held} == {0}
        consumer.resume([TP(topic, 1)])
        rest = _poll_all(consumer, 2)
        assert {m.partition for m in rest} == {1}
        # Commit everything but the last record of partition 1.
        consumer.commit({TP(topic, 0): 7, TP(topic, 1): 6})
        consumer.poll(0.5, 10)
    finally:
        consumer.close()
        producer.close()
    again = ConfluentGroupConsumer(config, [topic])
    try:
        [last] = _poll_all(again, 1)
        assert (last.partition, last.offset, last.value) == (1, 6, b"w3")
        assert again.poll(1.0, 10) == []
    finally:
        again.close()


def test_confluent_delivery_failure_surfaces_in_flush() -> None:
    """Nothing answers: the record is queued, and flush fails after the delivery timeout."""
    config = WorkerConfig(
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        client="confluent",
        kafka={"delivery_timeout_ms": 1000},
    )
    producer = ConfluentRecordProducer(config)
    try:
        producer.send("nowhere", partition=None, key=b"k", value=b"v")
        started = time.monotonic()
        with pytest.raises(ProduceError, match="timed out"):
            producer.flush(20)
        assert time.monotonic() - started < 10
    finally:
        producer.close()


def test_client_is_chosen_by_config_or_environment(tmp_path: Path) -> None:
    assert load_config(environ={}).client == "kafka-python"
    assert load_config(environ={"CORRELATOR_CLIENT": "confluent"}).client == "confluent"
    conf = client_config(
        WorkerConfig.model_validate(
            {
                "client": "confluent",
                "kafka": {
                    "security_protocol": "SASL_SSL",
                    "sasl_mechanism": "SCRAM-SHA-512",
                    "sasl_plain_username": "u",
                    "sasl_plain_password": "p",
                    "ssl_cafile": "/ca.pem",
                    "ssl_check_hostname": False,
                    "librdkafka_options": {"socket.keepalive.enable": True},
                },
            }
        )
    )
    assert conf["security.protocol"] == "sasl_ssl"
    assert (conf["sasl.mechanism"], conf["sasl.username"], conf["sasl.password"]) == (
        "SCRAM-SHA-512",
        "u",
        "p",
    )
    assert conf["ssl.ca.location"] == "/ca.pem"
    assert conf["ssl.endpoint.identification.algorithm"] == "none"
    assert conf["socket.keepalive.enable"] is True
