"""`correlator run`: the streaming worker (design, limits and sizing: docs/worker.md).

One consumer in the group `group_id` reads two topics:

* **stage 1**, the alerts topic: decode each message (or dead-letter it), and send every alert
  to the internal repartition topic, keyed and partitioned by its topology domain
  (`correlator.worker.routing`), so that alerts that can correlate meet in one engine;
* **stage 2**, the repartition topic: one `Correlator` per repartition partition ingests the
  alerts at their event time (`correlator.worker.eventtime`) and publishes incident updates (key =
  incident id) and its state changes (to the same partition of the compacted state topic).

Every batch: process -> produce repartition / dead letters / incident updates -> flush ->
produce state changes and a checkpoint per engine -> flush -> commit the input offsets. A crash
anywhere re-delivers the batch; the checkpoints make re-delivered records change no state (see
`changelog`), so incidents come out as they would have, at most re-published with the
same version.
"""

from __future__ import annotations

import heapq
import logging
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from correlator.core.model import Alert, IncidentRecord, rfc3339, utc
from correlator.core.settings import EngineSettings
from correlator.worker.changelog import (
    WORKER_KEY,
    Checkpoint,
    Restorer,
    encode_key,
    encode_value,
    repair_records,
)
from correlator.worker.config import ConfigError, WorkerConfig, load_config
from correlator.worker.eventtime import EventClock
from correlator.worker.http import Health, HealthServer, Webhook
from correlator.worker.metrics import EngineSnapshot, LagSnapshot, Metrics
from correlator.worker.ports import (
    TP,
    Clients,
    CommitFailedError,
    Consumer,
    Headers,
    Message,
    ProduceError,
    Producer,
    TopicSpec,
)
from correlator.worker.routing import partition_for, routing_key

log = logging.getLogger("correlator.worker.loop")

#: Headers on repartition records: where the alert came from, for de-duplication and latency.
H_SOURCE = "correlator.src"
H_OFFSET = "correlator.src.offset"
H_TIMESTAMP = "correlator.src.timestamp"
#: Version of the repartition record's JSON (`{"v": 1, "alerts": [...]}`).
REPARTITION_VERSION = 1

#: Seconds between refreshes of an engine's gauges while it is busy (see `Worker._account`).
STATS_INTERVAL = 1.0
#: Headers on dead letters.
H_DLQ_REASON = "correlator.dlq.reason"
H_DLQ_CODE = "correlator.dlq.code"
H_DLQ_TOPIC = "correlator.dlq.topic"
H_DLQ_PARTITION = "correlator.dlq.partition"
H_DLQ_OFFSET = "correlator.dlq.offset"
H_DLQ_TIMESTAMP = "correlator.dlq.timestamp"
H_DLQ_TIME = "correlator.dlq.time"
H_DLQ_TRUNCATED = "correlator.dlq.truncated"

#: After a topology reload, resolves are also sent where the previous topology would have
#: routed them for this long, so that an alert that fired before the reload still finds its
#: engine (a day covers any realistic alert lifetime).
PREVIOUS_TOPOLOGY_GRACE = 24 * 3600.0


class Engine(Protocol):
    """What the worker needs of `correlator.core.engine.Correlator`."""

    def ingest_many(self, alerts: Iterable[tuple[Alert, datetime]]) -> Sequence[Any]: ...
    def tick(self, now: datetime) -> Sequence[Any]: ...
    def restore(self, state: Mapping[str, Any]) -> None: ...
    def take_state_changes(self) -> dict[str, Any | None]: ...
    def replace_topology(self, topology: Any) -> None: ...
    def stats(self) -> Any: ...


class Decoder(Protocol):
    def __call__(self, raw: bytes, *, received_at: datetime, max_bytes: int) -> list[Alert]: ...


EngineFactory = Callable[[Any, EngineSettings], Engine]
TopologyLoader = Callable[[str], Any]


def _default_decoder() -> Decoder:
    from correlator.wire.decode import decode  # noqa: PLC0415

    return decode


def _default_engine_factory() -> EngineFactory:
    from correlator.core.engine import Correlator  # noqa: PLC0415
    from correlator.wire.render.record import build_record  # noqa: PLC0415

    def build(topology: Any, settings: EngineSettings) -> Engine:
        return Correlator(topology, settings, render=build_record)

    return build


def _default_topology_loader() -> TopologyLoader:
    from topology import load_topology  # noqa: PLC0415

    return load_topology


def _is_decode_error(exc: Exception) -> bool:
    return hasattr(exc, "code") and hasattr(exc, "reason") and type(exc).__name__ == "DecodeError"


def _read_repartition_record(value: bytes | None) -> list[Alert]:
    data = orjson.loads(value or b"null")
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise ValueError("expected an object with an alerts list")
    return [Alert.model_validate(item) for item in data["alerts"]]


class FatalError(Exception):
    """The worker cannot go on (outputs could not be written, state unreadable): it exits
    non-zero without committing, and its restart resumes from the last commit."""


@dataclass(slots=True)
class _Engine:
    partition: int
    engine: Engine
    checkpoint: Checkpoint
    clock: EventClock
    last_tick: float
    dirty: bool = False
    stats: Any = None
    stats_at: float = float("-inf")
    stats_stale: bool = False


@dataclass(slots=True)
class _Batch:
    commits: dict[TP, int] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)
    sent: int = 0
    latencies: list[int] = field(default_factory=list)
    """Kafka timestamps (ms) of the source messages of the alerts in this batch."""


def _mtime(path: Path) -> float:
    """Newest modification time under `path` (a file or a directory tree)."""
    try:
        if path.is_dir():
            times = [path.stat().st_mtime]
            times.extend(p.stat().st_mtime for p in path.rglob("*") if p.is_file())
            return max(times)
        return path.stat().st_mtime
    except OSError:
        return -1.0


class Worker:
    """The loop. Build it, `start()` it, then `run()` it (blocks) or `run_once()` step by step
    in tests; `stop()` and `request_reload()` may be called from any thread."""

    def __init__(
        self,
        config: WorkerConfig,
        clients: Clients,
        *,
        metrics: Metrics | None = None,
        health: Health | None = None,
        decode: Decoder | None = None,
        engine_factory: EngineFactory | None = None,
        load_topology: TopologyLoader | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_update: Callable[[IncidentRecord], None] | None = None,
    ) -> None:
        self.config = config
        self.clients = clients
        self.metrics = metrics or Metrics()
        self.health = health or Health(config.liveness_timeout.total_seconds())
        self._decode = decode or _default_decoder()
        self._engine_factory = engine_factory or _default_engine_factory()
        self._load_topology = load_topology or _default_topology_loader()
        self._mono = monotonic
        self._wall = wall
        self._on_update = on_update
        self._stop = threading.Event()
        self._reload = threading.Event()
        self.settings = config.engine_settings()
        self.topology: Any = None
        self._previous_topologies: list[tuple[float, Any]] = []
        self._topology_path = Path(config.topology_path())
        self._topology_mtime = -1.0
        self._topology_checked = 0.0
        self.alerts_topic = config.alerts_topic
        self.repartition_topic = config.repartition_topic_name
        self.state_topic = config.state_topic_name
        self.partitions = 0
        self.engines: dict[int, _Engine] = {}
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._assignment: frozenset[TP] = frozenset()
        self._pending: dict[TP, deque[Message]] = {}
        self._paused: set[TP] = set()
        self._blocked_since: float | None = None
        self._open_impact: dict[str, tuple[datetime, int]] = {}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load the topology, create missing topics, join the group (no partitions yet)."""
        self._install_topology(self._load_topology(str(self._topology_path)), initial=True)
        self._topology_mtime = _mtime(self._topology_path)
        self._topology_checked = self._mono()
        counts = self._ensure_topics()
        self.partitions = counts[self.repartition_topic]
        if counts[self.state_topic] < self.partitions:
            raise ConfigError(
                f"state topic {self.state_topic} has {counts[self.state_topic]} partitions, "
                f"fewer than the {self.partitions} of {self.repartition_topic}"
            )
        self._producer = self.clients.producer()
        self._consumer = self.clients.consumer([self.alerts_topic, self.repartition_topic])
        self.health.beat()
        log.info(
            "worker started: group %s, %s -> %s (%d partitions) -> %s",
            self.config.group_id,
            self.alerts_topic,
            self.repartition_topic,
            self.partitions,
            self.config.incidents_topic,
        )

    def _ensure_topics(self) -> dict[str, int]:
        cfg = self.config
        p = cfg.partitions
        compact = {"cleanup.policy": "compact", "max.message.bytes": str(8 * 1024 * 1024)}
        retained = {"cleanup.policy": "delete", "retention.ms": str(cfg.retention_ms)}
        specs = [
            TopicSpec(cfg.alerts_topic, p.alerts, cfg.replication_factor, retained),
            TopicSpec(self.repartition_topic, p.repartition, cfg.replication_factor, retained),
            TopicSpec(self.state_topic, p.repartition, cfg.replication_factor, compact),
            TopicSpec(cfg.incidents_topic, p.incidents, cfg.replication_factor, compact),
            TopicSpec(cfg.dlq_topic, p.dlq, cfg.replication_factor, retained),
        ]
        admin = self.clients.admin()
        try:
            if cfg.create_topics:
                return admin.ensure_topics(specs)
            counts = admin.describe([spec.name for spec in specs])
        finally:
            admin.close()
        missing = [spec.name for spec in specs if spec.name not in counts]
        if missing:
            raise ConfigError(f"topics missing (and create_topics is off): {missing}")
        return counts

    def stop(self) -> None:
        """Finish the current batch, then leave (safe from signal handlers and threads)."""
        self._stop.set()

    def request_reload(self) -> None:
        self._reload.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> int:
        """Loop until `stop()`; returns the process exit code."""
        try:
            while not self._stop.is_set():
                self.run_once()
        except FatalError as exc:
            log.error("stopping: %s", exc)
            self._close(clean=False)
            return 1
        except Exception:
            # A client error kafka-python does not retry (authorisation, a deleted topic...):
            # nothing of the batch is committed; the restart resumes from the last commit.
            log.exception("stopping on an unexpected error")
            self._close(clean=False)
            return 1
        self._close(clean=True)
        return 0

    def _close(self, *, clean: bool) -> None:
        self.health.stopping = True
        self.metrics.ready.set(0)
        if self._producer is not None:
            try:
                if clean:
                    self._producer.flush(self.config.flush_timeout.total_seconds())
            except ProduceError as exc:
                log.error("final flush failed: %s", exc)
            try:
                self._producer.close()
            except Exception as exc:
                log.warning("closing the producer: %s", exc)
        if self._consumer is not None:
            try:
                self._consumer.close()  # leaves the group: the others take over at once
            except Exception as exc:
                log.warning("closing the consumer: %s", exc)
        log.info("worker stopped%s", "" if clean else " after an error")

    # -- one iteration ------------------------------------------------------------------------

    def run_once(self) -> None:
        consumer = self._consumer
        assert consumer is not None, "start() first"
        self._maybe_reload_topology()
        messages = consumer.poll(
            self.config.poll_timeout.total_seconds(), self.config.max_poll_records
        )
        self._reconcile(consumer)
        correlate: list[Message] = []
        for message in messages:
            if message.tp not in self._assignment:
                continue  # revoked while it was in flight; its new owner reads it
            if message.topic == self.alerts_topic:
                self._pending.setdefault(message.tp, deque()).append(message)
            else:
                correlate.append(message)
        decode = self._merged(consumer)
        if decode or correlate:
            self._process(decode, correlate)
        self._tick_idle()
        self._publish_metrics(consumer)
        self.health.beat()
        self.metrics.last_heartbeat.set(time.time())

    def _reconcile(self, consumer: Consumer) -> None:
        """Follow the group: drop engines of partitions given up, restore new ones."""
        events = consumer.take_rebalance_events()
        if events:
            self.metrics.rebalances.inc(events.generations)
            if events.generations:
                self.health.joined = True
            for tp in events.revoked | events.lost:
                if tp.topic == self.repartition_topic and tp.partition in self.engines:
                    del self.engines[tp.partition]
                    log.info("partition %d revoked: engine dropped", tp.partition)
            log.info(
                "rebalance: revoked %d, lost %d, assigned %s",
                len(events.revoked),
                len(events.lost),
                sorted((tp.topic, tp.partition) for tp in events.assigned),
            )
        self._assignment = consumer.assignment()
        for tp in list(self._pending):
            if tp not in self._assignment or tp in events.revoked or tp in events.lost:
                # Its new owner (maybe us again) reads it from the last commit.
                del self._pending[tp]
        self._paused &= self._assignment
        if events.generations:
            self._paused.clear()  # a new assignment starts unpaused
        mine = {tp.partition for tp in self._assignment if tp.topic == self.repartition_topic}
        for gone in set(self.engines) - mine:
            del self.engines[gone]
        missing = mine - set(self.engines)
        if missing:
            self._restore(sorted(missing))
        self.health.assigned = len(self._assignment)

    # -- restore ------------------------------------------------------------------------------

    def _restore(self, partitions: list[int]) -> None:
        self.health.restoring = frozenset(partitions)
        self.metrics.ready.set(0)
        started = self._mono()
        restorers = {p: Restorer(p) for p in partitions}
        reader = self.clients.changelog_reader()
        records = 0
        try:
            for message in reader.read_to_end(self.state_topic, partitions):
                restorers[message.partition].feed(message)
                records += 1
                if records % 10_000 == 0:
                    self.health.beat()
        except Exception as exc:
            raise FatalError(f"cannot restore state partitions {partitions}: {exc}") from exc
        finally:
            reader.close()
        repaired = 0
        for p, restorer in restorers.items():
            try:
                restored = restorer.result()
            except Exception as exc:
                raise FatalError(str(exc)) from exc
            engine = self._engine_factory(self.topology, self.settings)
            if restored.state:
                engine.restore(restored.state)
            engine.take_state_changes()  # what was just read back needs no writing
            for key, value in repair_records(restorer, restored):
                self._send(self.state_topic, partition=p, key=encode_key(key), value=value)
                repaired += 1
            checkpoint = restored.checkpoint
            now = self._mono()
            self.engines[p] = _Engine(
                partition=p,
                engine=engine,
                checkpoint=checkpoint,
                clock=EventClock(checkpoint.clock, now, self.config.idle_clock_rate),
                last_tick=now,
            )
            self.engines[p].stats = engine.stats()
            log.info(
                "partition %d restored: %d records, %d keys, resume at offset %d%s",
                p,
                restored.records,
                len(restored.state),
                checkpoint.offset,
                f", {len(restored.uncommitted)} unfinished writes undone"
                if restored.uncommitted
                else "",
            )
        if repaired:
            self._flush()
        elapsed = self._mono() - started
        self.metrics.restore_duration.observe(elapsed)
        self.metrics.restored_records.inc(records)
        self.health.restoring = frozenset()
        log.info("restored %d partitions in %.3fs", len(partitions), elapsed)

    # -- the batch ----------------------------------------------------------------------------

    def _merged(self, consumer: Consumer) -> list[Message]:
        """The buffered input messages that can be decoded now, in timestamp order across
        partitions (per partition, in offset order). A partition with data not yet fetched
        holds the rest back for up to `merge_wait`, so that a backlog read from several
        partitions reaches the engines in time order, as it was produced."""
        pending = self._pending
        if not pending:
            return []
        limit = self.config.max_poll_records
        inputs = [tp for tp in self._assignment if tp.topic == self.alerts_topic]
        if len(inputs) == 1 and len(pending) == 1:  # one input partition: its own order
            ((_, only),) = pending.items()
            everything = list(only)
            only.clear()
            return everything
        positions = consumer.positions()
        blocked = False
        for tp in self._assignment:
            if tp.topic != self.alerts_topic or pending.get(tp):
                continue
            position, end = positions.get(tp, (0, None))
            if end is None or position < end:
                blocked = True
        mono = self._mono()
        waited_out = False
        if blocked:
            if self._blocked_since is None:
                self._blocked_since = mono
            if mono - self._blocked_since < self.config.merge_wait.total_seconds():
                self._pause_full(consumer)
                return []
            waited_out = True
        self._blocked_since = None
        out: list[Message] = []
        heads = [(q[0].timestamp_ms, tp, q) for tp, q in pending.items() if q]
        heapq.heapify(heads)
        while heads and len(out) < limit:
            _, tp, queue = heapq.heappop(heads)
            out.append(queue.popleft())
            if queue:
                heapq.heappush(heads, (queue[0].timestamp_ms, tp, queue))
                continue
            position, end = positions.get(tp, (0, None))
            caught_up = end is not None and out[-1].offset + 1 >= end
            if not caught_up and not waited_out:
                break  # its next records are not fetched yet: stop here, in order
        self._pause_full(consumer)
        return out

    def _pause_full(self, consumer: Consumer) -> None:
        """Stop fetching partitions far ahead of the others; resume them once drained."""
        limit = self.config.max_poll_records
        full = {tp for tp, q in self._pending.items() if len(q) >= limit}
        drained = {tp for tp in self._paused if len(self._pending.get(tp, ())) < limit // 2}
        if full - self._paused:
            consumer.pause(full - self._paused)
        if drained:
            consumer.resume(drained)
        self._paused = (self._paused | full) - drained

    def _process(self, decode: list[Message], correlate: list[Message]) -> None:
        started = self._mono()
        batch = _Batch()
        for message in decode:
            self._stage1(message, batch)
            batch.commits[message.tp] = message.offset + 1
        for message in correlate:
            self._stage2(message, batch)
            batch.commits[message.tp] = message.offset + 1
        self._finish(batch)
        self.metrics.batch_records.labels(stage="decode").inc(len(decode))
        self.metrics.batch_records.labels(stage="correlate").inc(len(correlate))
        self.metrics.processing.observe(self._mono() - started)

    def _finish(self, batch: _Batch) -> None:
        """Flush outputs, then state and checkpoints, then commit: the order that makes a
        crash at any point harmless."""
        consumer = self._consumer
        assert consumer is not None
        if batch.sent:
            self._flush()
        if batch.touched:
            for p in sorted(batch.touched):
                self._write_state(self.engines[p])
            self._flush()
        now_ms = time.time() * 1000
        for ts in batch.latencies:
            self.metrics.end_to_end.observe(max(0.0, (now_ms - ts) / 1000))
        try:
            consumer.commit(batch.commits)
        except CommitFailedError as exc:
            # The group moved on while we worked: the partitions' new owners re-read this
            # batch from the previous commit and the checkpoints make that harmless.
            self.metrics.commit_failures.inc()
            log.warning("commit refused (rebalance in progress): %s", exc)

    def _flush(self) -> None:
        producer = self._producer
        assert producer is not None
        try:
            producer.flush(self.config.flush_timeout.total_seconds())
        except ProduceError as exc:
            raise FatalError(f"cannot write outputs: {exc}") from exc

    def _send(
        self,
        topic: str,
        *,
        partition: int | None,
        key: bytes | None,
        value: bytes | None,
        headers: Headers = (),
    ) -> None:
        producer = self._producer
        assert producer is not None
        try:
            producer.send(topic, partition=partition, key=key, value=value, headers=headers)
        except ProduceError as exc:
            raise FatalError(f"cannot write to {topic}: {exc}") from exc

    # -- stage 1: decode and route ----------------------------------------------------------

    def _stage1(self, message: Message, batch: _Batch) -> None:
        metrics = self.metrics
        if message.value is None:
            metrics.events_consumed.labels(format="none", outcome="empty").inc()
            return
        received = (
            datetime.fromtimestamp(message.timestamp_ms / 1000, UTC)
            if message.timestamp_ms >= 0
            else self._wall()
        )
        try:
            alerts = self._decode(
                message.value, received_at=received, max_bytes=self.config.max_message_bytes
            )
        except Exception as exc:
            if _is_decode_error(exc):
                code = str(getattr(exc, "code", "invalid"))
                reason = str(getattr(exc, "reason", exc))
            else:
                log.exception("decoder failed on %s/%d@%d", *message.tp, message.offset)
                code, reason = "decoder_error", f"decoder failed: {type(exc).__name__}: {exc}"
            self._dead_letter(message, code, reason, batch)
            metrics.events_consumed.labels(format="unknown", outcome="dead_letter").inc()
            return
        if not alerts:
            metrics.events_consumed.labels(format="unknown", outcome="empty").inc()
            return
        fmt = alerts[0].format
        metrics.events_consumed.labels(format=fmt, outcome="ok").inc()
        metrics.alerts_decoded.labels(format=fmt).inc(len(alerts))
        # One repartition record per destination partition, carrying all the message's alerts
        # for it: the engine ingests them together and publishes once per incident, as
        # `correlator replay` does with the alerts of one line.
        groups: dict[int, tuple[str, list[dict[str, Any]]]] = {}
        for alert in alerts:
            data = alert.model_dump(mode="json")
            for key, partition in self._routes(alert):
                groups.setdefault(partition, (key, []))[1].append(data)
        headers: Headers = (
            (H_SOURCE, f"{message.topic}/{message.partition}".encode()),
            (H_OFFSET, str(message.offset).encode()),
            (H_TIMESTAMP, str(message.timestamp_ms).encode()),
        )
        for partition, (key, items) in sorted(groups.items()):
            self._send(
                self.repartition_topic,
                partition=partition,
                key=key.encode(),
                value=orjson.dumps({"v": REPARTITION_VERSION, "alerts": items}),
                headers=headers,
            )
            batch.sent += 1

    def _routes(self, alert: Alert) -> list[tuple[str, int]]:
        """Where an alert goes: its domain's partition. A resolve that carries nothing to route
        it by (a PagerDuty resolve has no labels) is sent to every partition, and an engine that
        never saw the alert ignores it; a mapped resolve also goes where the
        previous topology routed it, within a grace period after a reload."""
        try:
            key = routing_key(self.topology, alert)
        except Exception:  # a topology bug must not stop the stream
            log.exception("routing failed for alert %s", alert.fingerprint)
            key = f"unmapped:alertname={alert.name}"
        if alert.status != "resolved":
            return [(key, partition_for(key, self.partitions))]
        if key.startswith("unmapped:"):
            if alert.labels or alert.node:
                # Same labels as its firing: the same unmapped key, so the same partition.
                return [(key, partition_for(key, self.partitions))]
            return [(key, p) for p in range(self.partitions)]
        routes = {partition_for(key, self.partitions): key}
        for _, old in self._previous_topologies:
            try:
                old_key = routing_key(old, alert)
            except Exception:  # the current route stands
                continue
            routes.setdefault(partition_for(old_key, self.partitions), old_key)
        return [(k, p) for p, k in sorted(routes.items())]

    def _dead_letter(self, message: Message, code: str, reason: str, batch: _Batch) -> None:
        value = message.value
        headers: list[tuple[str, bytes]] = list(message.headers)
        limit = self.config.dlq_max_bytes
        if value is not None and len(value) > limit:
            headers.append((H_DLQ_TRUNCATED, str(len(value)).encode()))
            value = value[:limit]
        headers.extend(
            [
                (H_DLQ_REASON, reason.encode("utf-8", "replace")[:2000]),
                (H_DLQ_CODE, code.encode()),
                (H_DLQ_TOPIC, message.topic.encode()),
                (H_DLQ_PARTITION, str(message.partition).encode()),
                (H_DLQ_OFFSET, str(message.offset).encode()),
                (H_DLQ_TIMESTAMP, str(message.timestamp_ms).encode()),
                (H_DLQ_TIME, (rfc3339(self._wall()) or "").encode()),
            ]
        )
        self._send(
            self.config.dlq_topic,
            partition=None,
            key=message.key,
            value=value if value is not None else b"",
            headers=tuple(headers),
        )
        batch.sent += 1
        self.metrics.dead_letters.labels(reason=code).inc()
        log.warning(
            "dead letter %s/%d@%d (%s): %s",
            message.topic,
            message.partition,
            message.offset,
            code,
            reason,
        )

    # -- stage 2: correlate -------------------------------------------------------------------

    def _stage2(self, message: Message, batch: _Batch) -> None:
        part = self.engines.get(message.partition)
        if part is None:  # pragma: no cover - reconcile restores every assigned partition
            log.error("no engine for partition %d; record skipped", message.partition)
            return
        checkpoint = part.checkpoint
        if message.offset < checkpoint.offset:
            self.metrics.duplicates.inc()  # applied before a crash; in the restored state
            return
        checkpoint.offset = message.offset + 1
        part.dirty = True
        batch.touched.add(part.partition)
        try:
            alerts = _read_repartition_record(message.value)
        except (ValueError, ValidationError) as exc:
            self._dead_letter(message, "bad_internal_record", f"repartition record: {exc}", batch)
            return
        source_raw = message.header(H_SOURCE)
        source = source_raw.decode() if source_raw else None
        src_offset = int(message.header(H_OFFSET) or b"-1")
        window = self.config.dedup_window
        if source and checkpoint.is_duplicate(source, src_offset, 0, window):
            self.metrics.duplicates.inc()  # stage 1 re-sent it after a crash or rebalance
            return
        mono = self._mono()
        wall = self._wall()
        timed: list[tuple[Alert, datetime]] = []
        for alert in alerts:
            timed.append((alert, part.clock.on_event(alert.event_time, mono)))
            age = (wall - utc(alert.event_time)).total_seconds()
            self.metrics.event_age.observe(max(0.0, age))
        try:
            updates = part.engine.ingest_many(timed)
        except Exception as exc:
            log.exception("engine failed on %s", [a.fingerprint for a in alerts])
            self.metrics.engine_errors.inc()
            self._dead_letter(message, "engine_error", f"{type(exc).__name__}: {exc}", batch)
            updates = []
        if source:
            checkpoint.applied(source, src_offset, 0)
        timestamp = message.header(H_TIMESTAMP)
        if timestamp and timestamp.isdigit() and int(timestamp) > 0:
            batch.latencies.append(int(timestamp))
        self._publish(updates, batch)

    def _publish(self, updates: Iterable[Any], batch: _Batch) -> None:
        for update in updates:
            record: IncidentRecord = update.record
            self._send(
                self.config.incidents_topic,
                partition=None,
                key=record.id.encode(),
                value=record.to_json(),
                headers=(("correlator.version", str(record.version).encode()),),
            )
            batch.sent += 1
            self.metrics.updates_published.labels(status=record.status).inc()
            self._user_hours(record)
            if record.resolved_at is not None and "resolved" in record.changes:
                # Only the update that resolves it, not later re-publications.
                duration = (record.resolved_at - record.opened_at).total_seconds()
                self.metrics.incident_duration.labels(priority=str(record.priority)).observe(
                    max(0.0, duration)
                )
            if self._on_update is not None:
                self._on_update(record)

    def _write_state(self, part: _Engine) -> None:
        changes = part.engine.take_state_changes()
        for key, value in changes.items():
            self._send(
                self.state_topic,
                partition=part.partition,
                key=encode_key(key),
                value=encode_value(value),
            )
        checkpoint = part.checkpoint
        checkpoint.clock = part.clock.now
        checkpoint.seq += 1
        self._send(
            self.state_topic,
            partition=part.partition,
            key=encode_key(WORKER_KEY),
            value=checkpoint.to_json(),
        )
        self.metrics.changelog_records.inc(len(changes) + 1)
        self._account(part)
        part.dirty = False

    def _account(self, part: _Engine, *, force: bool = False) -> None:
        """Refresh an engine's statistics for the gauges, at most every STATS_INTERVAL:
        `stats()` walks every alert and incident of the engine, and doing that after every
        batch cost more than the batch itself once thousands of incidents were open. Idle
        ticks catch up, so the gauges settle within a tick once traffic stops."""
        mono = self._mono()
        if force or mono - part.stats_at >= STATS_INTERVAL:
            part.stats = part.engine.stats()
            part.stats_at = mono
            part.stats_stale = False
        else:
            part.stats_stale = True

    def _user_hours(self, record: IncidentRecord) -> None:
        """People affected x hours, by event time, from one incident's successive updates:
        the head count of the previous update holds until this one."""
        previous = self._open_impact.get(record.id)
        until = record.resolved_at if record.status != "open" else record.updated_at
        if previous is not None and until is not None:
            since, users = previous
            seconds = (until - since).total_seconds()
            if seconds > 0 and users > 0:
                self.metrics.user_time_lost.inc(users * seconds)
        if record.status == "open":
            if len(self._open_impact) > 100_000:
                # Incidents whose partitions moved to another worker resolve there; forget
                # them rather than grow for ever (the counter only loses a segment).
                self._open_impact.clear()
            self._open_impact[record.id] = (record.updated_at, record.affected.users)
        else:
            self._open_impact.pop(record.id, None)

    # -- idle ticks ---------------------------------------------------------------------------

    def _tick_idle(self) -> None:
        interval = self.config.tick_interval.total_seconds()
        mono = self._mono()
        batch = _Batch()
        for part in self.engines.values():
            if part.stats_stale and part.clock.idle_for(mono) >= interval:
                self._account(part, force=True)
            if part.clock.idle_for(mono) < interval or mono - part.last_tick < interval:
                continue
            part.last_tick = mono
            now = part.clock.idle_now(mono)
            if now is None:
                continue
            self.metrics.ticks.inc()
            updates = part.engine.tick(now)
            self._publish(updates, batch)
            if updates:
                batch.touched.add(part.partition)
        if batch.sent:
            self._flush()
        if batch.touched:
            for p in sorted(batch.touched):
                self._write_state(self.engines[p])
            self._flush()

    # -- topology -----------------------------------------------------------------------------

    def _install_topology(self, topology: Any, *, initial: bool = False) -> None:
        if not initial and self.topology is not None:
            expires = self._mono() + PREVIOUS_TOPOLOGY_GRACE
            self._previous_topologies.append((expires, self.topology))
        self.topology = topology
        for part in self.engines.values():
            part.engine.replace_topology(topology)
        self.metrics.topology_nodes.set(len(topology))
        self.metrics.topology_reload_time.set(time.time())
        self.health.topology_loaded = True

    def _maybe_reload_topology(self) -> None:
        mono = self._mono()
        now = mono
        self._previous_topologies = [(t, topo) for t, topo in self._previous_topologies if t > now]
        forced = self._reload.is_set()
        interval = self.config.topology_poll_interval.total_seconds()
        if not forced and mono - self._topology_checked < interval:
            return
        self._topology_checked = mono
        mtime = _mtime(self._topology_path)
        if not forced and mtime == self._topology_mtime:
            return
        self._reload.clear()
        self._topology_mtime = mtime
        self.reload_topology(reason="SIGHUP" if forced else "file changed")

    def reload_topology(self, reason: str = "requested") -> bool:
        """Load, validate and swap in the topology; keep the last good one on failure."""
        try:
            topology = self._load_topology(str(self._topology_path))
        except Exception as exc:
            self.metrics.topology_reload_failures.inc()
            log.error(
                "topology reload (%s) refused, keeping the last good one (%d nodes): %s",
                reason,
                len(self.topology) if self.topology is not None else 0,
                exc,
            )
            return False
        if getattr(topology, "digest", None) is not None and getattr(
            topology, "digest", None
        ) == getattr(self.topology, "digest", object()):
            log.info("topology reload (%s): unchanged", reason)
            return True
        self._install_topology(topology)
        self.metrics.topology_reloads.inc()
        log.info("topology reloaded (%s): %d nodes", reason, len(topology))
        return True

    # -- metrics ------------------------------------------------------------------------------

    def _publish_metrics(self, consumer: Consumer) -> None:
        self.metrics.publish_lag(LagSnapshot(consumer.positions()))
        by_priority: dict[int, int] = {}
        by_group: dict[str, int] = {}
        active = suppressed = people = 0
        for part in self.engines.values():
            stats = part.stats
            if stats is None:
                continue
            active += stats.active_alerts
            suppressed += stats.suppressed_alerts
            people += stats.people_affected
            for prio, count in stats.open_incidents_by_priority.items():
                by_priority[prio] = by_priority.get(prio, 0) + count
            for group, count in stats.open_incidents_by_group.items():
                by_group[group] = by_group.get(group, 0) + count
        self.metrics.publish_engine(
            EngineSnapshot(
                active_alerts=active,
                suppressed_alerts=suppressed,
                open_incidents_by_priority=by_priority,
                open_incidents_by_group=by_group,
                people_affected=people,
                engines=len(self.engines),
            )
        )
        self.metrics.ready.set(1 if self.health.ready().ok else 0)


# -- the process ----------------------------------------------------------------------------


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(data).decode()


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # kafka-python logs every connection and rebalance step at INFO.
    logging.getLogger("kafka").setLevel(max(logging.WARNING, root.level))


def serve(
    config: WorkerConfig,
    clients: Clients | None = None,
    *,
    install_signals: bool = True,
    metrics: Metrics | None = None,
    on_update: Callable[[IncidentRecord], None] | None = None,
    worker_ready: Callable[[Worker], None] | None = None,
) -> int:
    """Run a worker with its HTTP endpoints until SIGTERM/SIGINT (or `worker.stop()`)."""
    if clients is None and config.client == "confluent":
        from correlator.worker.kafka.confluent import ConfluentClients  # noqa: PLC0415 - optional dep

        clients = ConfluentClients(config)
    elif clients is None:
        from correlator.worker.kafka.client import KafkaClients  # noqa: PLC0415 - the one kafka importer

        clients = KafkaClients(config)
    metrics = metrics or Metrics()
    health = Health(config.liveness_timeout.total_seconds())
    try:
        worker = Worker(config, clients, metrics=metrics, health=health, on_update=on_update)
    except Exception as exc:
        log.error("cannot start: %s", exc)
        return 2
    if install_signals:

        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("%s: finishing the batch, then stopping", signal.Signals(signum).name)
            worker.stop()

        def _hup(_signum: int, _frame: FrameType | None) -> None:
            worker.request_reload()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGHUP, _hup)
    try:
        server = HealthServer(metrics.registry, health, config.http_host, config.http_port)
    except OSError as exc:
        log.error("cannot serve on %s:%d: %s", config.http_host, config.http_port, exc)
        return 2
    server.start()
    log.info("serving /metrics /livez /readyz on %s:%d", config.http_host, server.port)
    try:
        try:
            worker.start()
        except Exception as exc:
            log.error("cannot start: %s", exc)
            return 2
        # The topics exist now. The HTTP input gets its own producer (not the loop's).
        server.open_webhook(Webhook.from_config(config, clients.producer))
        log.info("accepting POST /webhook into %s", config.alerts_topic)
        if worker_ready is not None:
            worker_ready(worker)
        return worker.run()
    finally:
        server.close()


def main(config_path: str | None = None, environ: Mapping[str, str] | None = None) -> int:
    """`correlator run --config FILE`."""
    try:
        config = load_config(config_path, environ)
    except ConfigError as exc:
        print(f"correlator run: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    log.info("configuration: %s", orjson.dumps(config.redacted()).decode())
    return serve(config)


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(prog="correlator run")
    parser.add_argument("--config")
    sys.exit(main(parser.parse_args().config))


__all__ = ["FatalError", "Worker", "main", "serve", "setup_logging"]
