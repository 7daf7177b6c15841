"""Configuration of `correlator run`: a YAML file (`--config FILE`) plus `CORRELATOR_*`
environment variables, the environment winning (docs/cli.md). Read with pydantic-settings:
ordered sources (environment, flat Kafka options, file), env prefix `CORRELATOR_`, nested
delimiter `__`; durations in Prometheus syntax (`90s`, `1h30m`).

Environment names are the upper-cased field names: `CORRELATOR_BOOTSTRAP_SERVERS`,
`CORRELATOR_HTTP_PORT`. Nested fields use a double underscore
(`CORRELATOR_PARTITIONS__REPARTITION=24`, `CORRELATOR_KAFKA__SESSION_TIMEOUT_MS=10000`), and the
Kafka client options may also be given flat (`CORRELATOR_SECURITY_PROTOCOL=SASL_SSL`,
`CORRELATOR_SASL_PLAIN_PASSWORD=...`); lists and mappings are JSON
(`CORRELATOR_OUTPUTS='[{"topic": "x", "format": "cloudevents"}]'`). An empty variable counts
as unset. Variables that name no field are ignored, so unrelated `CORRELATOR_*` variables do
not stop a worker; unknown keys in the file are an error, because a typo there is always a
mistake. Errors name the source and the field in one line.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from correlator.core.settings import Duration, EngineSettings
from correlator.errors import CorrelatorError
from correlator.wire.render.outputs import DEFAULT_FORMAT, check_output_format
from correlator.wire.rules_file import load_settings

ENV_PREFIX = "CORRELATOR_"

log = logging.getLogger(__name__)


class ConfigError(CorrelatorError):
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

    session_timeout_ms: int = Field(default=6_000, ge=1000)
    """A worker that stops heartbeating (SIGKILL, node loss) has its partitions moved after
    this long; heartbeats come from the client's own thread, so a GC pause (well under a
    second with the frozen heap) does not cost a rebalance. 6 s is the smallest session a
    Kafka broker accepts by default (`group.min.session.timeout.ms`) and the fastest
    failover it allows. Some brokers (Tansu) also hold a new group's first join for half of
    it: 6 s makes a lone worker ready in ~4 s there, 10 s in ~6 s (Kafka's own delay is
    `group.initial.rebalance.delay.ms`, 3 s)."""
    heartbeat_interval_ms: int = Field(default=2_000, ge=100)
    """A third of the session timeout or less, so two lost heartbeats are survivable."""
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    """The longest the loop may spend between polls before the group presumes it stuck: one
    batch plus restoring the state of newly assigned partitions must fit, hence 5 minutes."""
    request_timeout_ms: int = Field(default=30_000, ge=1000)
    """A broker request unanswered this long is retried on another connection."""
    delivery_timeout_ms: int = Field(default=120_000, ge=1000)
    """A produced record not acknowledged within this long fails the batch: the worker exits
    and restarts from its last commit rather than wait for ever on a dead cluster."""
    fetch_max_wait_ms: int = Field(default=10, ge=0)
    """A fetch returns after this long even with no data: bounds the latency of a quiet
    partition and the time SIGTERM waits for the loop. Some brokers (Tansu) hold every fetch
    until it expires, and an alert crosses two fetches (alerts, repartition), so this is paid
    twice per alert: 10 ms keeps it a small part of a 50 ms latency target, for ~100 empty
    fetches a second per idle consumer."""
    commit_async: bool = True
    """Commit input offsets without waiting for the broker's answer. The commit follows the
    batch's acknowledged outputs and checkpoints either way; a commit lost to a crash or a
    rebalance only re-delivers records the checkpoints already mark as applied, so waiting
    for it would add a round trip per batch for nothing."""
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


class OutputSettings(_Config):
    """One more place the incident records go, in a format a downstream tool reads
    (`correlator.wire.render.outputs`): CloudEvents, a ServiceNow incident, PagerDuty events.
    The native incidents topic is always written; outputs come in addition."""

    topic: str = Field(min_length=1)
    format: str = DEFAULT_FORMAT

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        return check_output_format(value)


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

    ingest_per: Literal["message", "batch"] = "message"
    """How the alerts of a poll batch go into an engine. `message` (default): one `ingest_many`
    call per input message, as `correlator replay` makes, so the worker's incidents equal
    replay's field for field. `batch`: one call per engine per poll batch (duplicates still
    filtered per message first), cheaper when a storm touches the same incidents again and
    again; the engine then re-assesses an incident once per batch, so a cost accrued while
    the batch was applied is booked at the next assessment's rate (see docs/worker.md)."""
    gc_freeze_interval: Duration = timedelta(minutes=1)
    """After a restore, and then this often, the objects the worker holds are moved out of
    the garbage collector's reach (`gc.freeze()`), so that an automatic full collection does
    not walk every open incident (hundreds of ms with tens of thousands open). 0 disables."""
    gc_full_interval: Duration = timedelta(hours=1)
    """This often everything is unfrozen and collected once, so cyclic garbage frozen with
    the live state (objects that died in cycles after a freeze) is reclaimed: a pause of
    about 2 s at 40,000 incidents (the whole loop waits). 0 never."""
    heap_trim_interval: Duration = timedelta(minutes=1)
    """This often, memory the C library holds free is given back to the system
    (`malloc_trim`, glibc only), so the RSS follows what the worker holds after a burst and
    under churn (`worker/heap_trim.py`; a few ms on the loop thread). 0 disables."""
    gc_young_threshold: int = Field(default=50_000, ge=0)
    """Allocations (net of frees) between two young-generation collections; Python's default
    is 700. Each event allocates thousands of short-lived objects and keeps some (alerts,
    records, state), so at 700 the collector ran hundreds of times a second and took a
    fifth of the worker's CPU (`bench/worker_loop.py`); at 50,000 it takes a few percent.
    Reference counting frees the engine's acyclic state either way: the threshold only
    decides how often cycles are looked for. 0 keeps Python's default."""
    client: Literal["kafka-python", "confluent"] = "kafka-python"
    """Kafka client library. `confluent` (confluent-kafka, librdkafka; `pip install
    confluent-kafka`) produces and consumes several times cheaper in CPU than kafka-python
    (librdkafka does the work on its own threads); the admin client stays on kafka-python.
    See docs/worker.md."""
    kafka: KafkaSettings = KafkaSettings()
    outputs: list[OutputSettings] = Field(default_factory=list)
    """Extra outputs, each a topic and a format, created like the incidents topic
    (`CORRELATOR_OUTPUTS='[{"topic": "incidents.ce", "format": "cloudevents"}]'`)."""
    desk: bool = True
    """Serve the desk API and page (`/`, `/api/v1/...`) from this worker's own view of the
    incidents topic. The view is a reader thread per worker that costs CPU in a storm; a
    deployment that runs dedicated desk workers can turn it off on the correlating ones."""
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
            *(output.topic for output in self.outputs),
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


def load_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> WorkerConfig:
    """Read `path` (YAML; optional) and overlay `environ` (default `os.environ`); see
    `config_sources` for the order of the sources."""
    # Imported here: the sources subclass `WorkerConfig`, so they cannot be imported above it.
    from correlator.worker.config_sources import read_config  # noqa: PLC0415

    return read_config(path, environ)
