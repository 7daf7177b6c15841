"""Configuration of `correlator run`: a YAML file (`--config FILE`) plus `CORRELATOR_*`
environment variables, the environment winning (CONTRACT §4).

Environment names are the upper-cased field names: `CORRELATOR_BOOTSTRAP_SERVERS`,
`CORRELATOR_HTTP_PORT`. Nested fields use a double underscore
(`CORRELATOR_PARTITIONS__REPARTITION=24`, `CORRELATOR_KAFKA__SESSION_TIMEOUT_MS=10000`), and the
Kafka client options may also be given flat (`CORRELATOR_SECURITY_PROTOCOL=SASL_SSL`,
`CORRELATOR_SASL_PLAIN_PASSWORD=...`). Variables that name no field are ignored (with a
warning), so unrelated `CORRELATOR_*` variables do not stop a worker; unknown keys in the file
are an error, because a typo there is always a mistake.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from correlator.core.settings import Duration, EngineSettings
from correlator.wire.rules_file import load_settings

ENV_PREFIX = "CORRELATOR_"

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the source and the field."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Config):
    """Kafka client options. Security options go to kafka-python unchanged, and to librdkafka
    (`client: confluent`) under its own names (`correlator.worker.kafka.confluent`)."""

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    """PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI."""
    sasl_plain_username: str | None = None
    sasl_plain_password: SecretStr | None = None
    sasl_kerberos_service_name: str = "kafka"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_password: SecretStr | None = None
    ssl_check_hostname: bool = True
    client_id: str = "correlator"
    group_instance_id: str | None = None
    """Static group membership (KIP-345): a worker restarted within `session_timeout_ms` gets
    its partitions back without a rebalance. Set it to the pod name in a StatefulSet."""

    session_timeout_ms: int = Field(default=30_000, ge=1000)
    """A worker that stops heartbeating (SIGKILL, node loss) has its partitions moved after
    this long: short enough that a dead worker's alerts wait half a minute, long enough that a
    GC pause or a broker leader move does not cause a rebalance."""
    heartbeat_interval_ms: int = Field(default=3_000, ge=100)
    """A third of the session timeout or less, so two lost heartbeats are survivable."""
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    """The longest the loop may spend between polls before the group presumes it stuck: one
    batch plus restoring the state of newly assigned partitions must fit, hence 5 minutes."""
    request_timeout_ms: int = Field(default=30_000, ge=1000)
    """A broker request unanswered this long is retried on another connection."""
    delivery_timeout_ms: int = Field(default=120_000, ge=1000)
    """A produced record not acknowledged within this long fails the batch: the worker exits
    and restarts from its last commit rather than wait for ever on a dead cluster."""
    fetch_max_wait_ms: int = Field(default=100, ge=0)
    """A fetch returns after this long even with no data: bounds the latency of a quiet
    partition and the time SIGTERM waits for the loop."""
    max_partition_fetch_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Must exceed the largest record (incident records of a big storm reach ~1 MiB)."""
    linger_ms: int = Field(default=5, ge=0)
    """Batch outgoing records for up to 5 ms: the loop flushes at the end of every batch
    anyway, so this only merges the records of one batch into fewer requests."""
    max_request_size: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Largest produce request; large enough for one incident record of a storm of
    `max_alerts_per_incident` alerts (about 1 MiB) with room to spare."""
    compression_type: Literal["gzip", "snappy", "lz4", "zstd"] | None = None
    """None by default: snappy/lz4/zstd need extra libraries that the image may not have."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Any other kafka-python option, passed to every kafka-python client unchanged."""
    librdkafka_options: dict[str, Any] = Field(default_factory=dict)
    """Any other librdkafka property (`queue.buffering.max.kbytes`, `sasl.oauthbearer.*`...),
    passed unchanged to the confluent-kafka clients (`client: confluent`), winning over the
    mapped settings above."""


class PartitionSettings(_Config):
    """Partition counts for topics the worker creates (existing topics are left as they are)."""

    alerts: int = Field(default=1, ge=1)
    """One partition keeps the input in arrival order whichever worker decodes it; decoding
    is cheap (tens of thousands of messages a second per worker), the engines are what
    scale, over `repartition`. See docs/worker.md before raising it."""
    repartition: int = Field(default=12, ge=1)
    """Also the number of engines and of state partitions; the most workers that can share
    the correlation work. Fixed for the life of a consumer group (see docs/worker.md)."""
    incidents: int = Field(default=6, ge=1)
    dlq: int = Field(default=1, ge=1)


class WorkerConfig(_Config):
    bootstrap_servers: str = "localhost:9092"
    group_id: str = Field(default="correlator", min_length=1)
    alerts_topic: str = "alerts"
    incidents_topic: str = "incidents"
    dlq_topic: str = "alerts.dlq"
    repartition_topic: str | None = None
    """Internal: decoded alerts keyed by topology domain. Default `<group_id>-repartition`."""
    state_topic: str | None = None
    """Internal, compacted: the engines' state changelog. Default `<group_id>-state`."""
    create_topics: bool = True
    partitions: PartitionSettings = PartitionSettings()
    replication_factor: int = Field(default=-1)
    """For topics the worker creates; -1 means the broker default."""
    retention_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=-1)
    """For the alerts, dead-letter and repartition topics the worker creates (a week: time
    to notice and replay a dead letter)."""

    topology: str | None = None
    """Topology file or directory; default the bundled example organisation."""
    rules: str | None = None
    """Rules file (EngineSettings as YAML). Wins over an `engine:` mapping in this file."""
    engine: EngineSettings | None = None

    http_host: str = "0.0.0.0"  # probes and scrapes come from the cluster
    http_port: int = Field(default=9630, ge=0, le=65535)
    http_token: SecretStr | None = None
    """When set, `POST /webhook` (the HTTP input) requires `Authorization: Bearer <token>`;
    /metrics and the probes stay open. Set it whenever the port is reachable by others."""
    http_produce_timeout: Duration = timedelta(seconds=5)
    """`POST /webhook` answers 503 (the sender retries) when its record is not acknowledged
    within this long; under Alertmanager's own 10 s notification timeout."""

    max_poll_records: int = Field(default=500, ge=1)
    """Records per batch: one flush and one commit per batch, so larger batches mean higher
    throughput and a longer replay after a crash."""
    poll_timeout: Duration = timedelta(milliseconds=200)
    """How long one poll waits for records; bounds how late idle ticks, topology reloads and
    SIGTERM are noticed."""
    merge_wait: Duration = timedelta(seconds=1)
    """With several alerts partitions, messages are decoded in timestamp order across them;
    a partition known to have data not yet fetched holds the others back at most this long
    (Kafka Streams' `max.task.idle.ms`)."""
    flush_timeout: Duration = timedelta(seconds=150)
    """A little over the producer's delivery timeout, so the producer's own error wins."""
    max_message_bytes: int = Field(default=1_048_576, ge=1024)
    """Input messages larger than this are dead-lettered unread (a mistake upstream)."""
    dlq_max_bytes: int = Field(default=1_000_000, ge=1024)
    """A dead letter's value is cut to this many bytes so that it fits the dead-letter topic's
    message size limit (header `correlator.dlq.truncated` gives the original size)."""
    tick_interval: Duration = timedelta(seconds=1)
    """An engine that saw no event for this long is ticked with a clock extrapolated by the
    wall clock, so incidents on an idle partition still resolve after the hold-down."""
    idle_clock_rate: float = Field(default=1.0, gt=0)
    """Event seconds that pass per wall second while an engine is idle. 1 in production; the
    demo and tests raise it so that hold-downs expire in seconds."""
    topology_poll_interval: Duration = timedelta(seconds=5)
    """How often the topology file's modification time is checked (SIGHUP reloads at once)."""
    liveness_timeout: Duration = timedelta(seconds=60)
    """/livez fails when the loop has not completed an iteration for this long."""
    broker_timeout: Duration = timedelta(seconds=30)
    """/readyz fails once the broker has been unreachable for this long (a broker restart or
    a leader move is shorter); `correlator_broker_up` shows every blip."""
    restore_timeout: Duration = timedelta(minutes=10)
    """Restoring state longer than this fails the worker (it restarts and tries again)."""
    dedup_window: int = Field(default=100_000, ge=0)
    """A re-delivered alert (same source partition, an offset at most this far behind the
    newest applied) is skipped; further behind is taken as a deliberate rewind of the input."""

    client: Literal["kafka-python", "confluent"] = "kafka-python"
    """Kafka client library. `confluent` (confluent-kafka, librdkafka; `pip install
    confluent-kafka`) sends the outputs several times cheaper in CPU than kafka-python; the
    consumer, admin and state reader stay on kafka-python. See docs/worker.md."""
    kafka: KafkaSettings = KafkaSettings()
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _topics_distinct(self) -> WorkerConfig:
        names = [
            self.alerts_topic,
            self.incidents_topic,
            self.dlq_topic,
            self.repartition_topic_name,
            self.state_topic_name,
        ]
        if len(set(names)) != len(names):
            raise ValueError(f"topic names must be distinct, got {names}")
        return self

    @property
    def repartition_topic_name(self) -> str:
        return self.repartition_topic or f"{self.group_id}-repartition"

    @property
    def state_topic_name(self) -> str:
        return self.state_topic or f"{self.group_id}-state"

    def engine_settings(self) -> EngineSettings:
        if self.rules:
            return load_settings(self.rules)
        return self.engine or EngineSettings()

    def topology_path(self) -> str:
        # A worker must never correlate against the bundled example organisation by accident:
        # it would report a Dallas WAN link in somebody's production.
        if not self.topology:
            raise ConfigError(
                "no topology given: set CORRELATOR_TOPOLOGY or `topology:` in the config file "
                "(only `correlator demo` uses the bundled example organisation)"
            )
        return self.topology

    def redacted(self) -> dict[str, Any]:
        """The configuration as logged at start-up (secrets shown as '**********')."""
        data: dict[str, Any] = self.model_dump(mode="json")
        data["repartition_topic"] = self.repartition_topic_name
        data["state_topic"] = self.state_topic_name
        return data


_KAFKA_FIELDS = frozenset(KafkaSettings.model_fields)
_TOP_FIELDS = frozenset(WorkerConfig.model_fields)


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """The nested mapping the `CORRELATOR_*` variables describe."""
    out: dict[str, Any] = {}
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if path[0] not in _TOP_FIELDS:
            if path[0] in _KAFKA_FIELDS:
                path.insert(0, "kafka")
            else:
                log.debug("ignoring %s: no such setting", name)
                continue
        if path[0] == "engine":
            log.warning("ignoring %s: engine settings come from a file (CORRELATOR_RULES)", name)
            continue
        node = out
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {part} is not a section")
            node = child
        node[path[-1]] = None if value == "" and path[-1] != "http_host" else value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> WorkerConfig:
    """Read `path` (YAML; optional) and overlay `environ` (default `os.environ`)."""
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            loaded: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: must be a mapping, not {type(loaded).__name__}")
        data = loaded
    env = env_overrides(os.environ if environ is None else environ)
    if env:
        source += " + environment"
    try:
        return WorkerConfig.model_validate(_merge(data, env))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from None
