"""Topic administration on a real cluster: create what is missing, never alter what exists."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from correlator.worker.config import WorkerConfig
from correlator.worker.kafka.lib import KafkaAdminClient, kafka_errors
from correlator.worker.kafka.options import client_options, only_known
from correlator.worker.ports import TopicSpec

log = logging.getLogger("correlator.worker.kafka.client")


class KafkaTopicAdmin:
    """Creates missing topics; never alters existing ones."""

    def __init__(self, config: WorkerConfig) -> None:
        options = client_options(config)
        self._admin = KafkaAdminClient(**only_known(options, KafkaAdminClient.DEFAULT_CONFIG))

    def describe(self, names: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for topic in self._admin.describe_topics(list(names)):
            if topic.get("error_code", 0) == 0 and topic.get("partitions"):
                out[topic["name"]] = len(topic["partitions"])
        return out

    def ensure_topics(self, specs: Sequence[TopicSpec]) -> dict[str, int]:
        names = [spec.name for spec in specs]
        existing = self.describe(names)
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            request = {
                spec.name: {
                    "num_partitions": spec.partitions,
                    "replication_factor": spec.replication_factor,
                    "configs": dict(spec.configs),
                }
                for spec in missing
            }
            # raise_errors=False: another worker starting at the same moment may win the
            # race (TopicAlreadyExists); any real failure shows up in the describe below.
            result = self._admin.create_topics(request, raise_errors=False)
            for topic in result.get("topics", []):
                code = topic.get("error_code", 0)
                if code not in (0, kafka_errors.TopicAlreadyExistsError.errno):
                    log.error(
                        "cannot create topic %s: %s", topic.get("name"), topic.get("error_message")
                    )
                elif code == 0:
                    log.info("created topic %s", topic.get("name"))
            try:
                self._admin.wait_for_topics(names, timeout_ms=30_000)
            except kafka_errors.KafkaTimeoutError as exc:
                raise RuntimeError(f"topics not ready: {exc}") from exc
            existing = self.describe(names)
        absent = [name for name in names if name not in existing]
        if absent:
            raise RuntimeError(f"topics missing and could not be created: {absent}")
        return existing

    def close(self) -> None:
        self._admin.close()
