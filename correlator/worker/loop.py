"""`correlator run`: the streaming worker (design, limits and sizing: docs/worker.md).

One consumer in the group `group_id` reads two topics:

* **stage 1**, the alerts topic: decode each message (or dead-letter it), and send every alert
  to the internal repartition topic, keyed and partitioned by its topology domain
  (`input`, `routing`), so that alerts that can correlate meet in one engine;
* **stage 2**, the repartition topic: one engine per repartition partition ingests the alerts
  at their event time (`partitions`, `eventtime`) and publishes incident updates (key =
  incident id, `publish`) and its state changes (to the same partition of the compacted state
  topic, `checkpoint`).

`Worker` only wires the parts together and runs the iteration; each part is one module:
`topics` (creating them), `input` (stage 1), `partitions` (stage 2, idle ticks), `checkpoint`
(the commit protocol), `recovery` (rebalance and restore), `topology_watch` (reloads),
`output` (the producer, dead letters). The process around it (signals, HTTP) is `service`.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from correlator.core.model import IncidentRecord
from correlator.worker.checkpoint import Batch, Checkpointer
from correlator.worker.config import WorkerConfig
from correlator.worker.engine import (
    Decoder,
    EngineFactory,
    TopologyLoader,
    default_decoder,
    default_engine_factory,
    default_topology_loader,
)
from correlator.worker.errors import FatalError
from correlator.worker.heap_trim import HeapTrim
from correlator.worker.http import Health
from correlator.worker.input import Decode, InputBuffer
from correlator.worker.metrics import LagSnapshot, Metrics, engine_snapshot
from correlator.worker.output import Output
from correlator.worker.partitions import Correlate, EnginePartition
from correlator.worker.ports import Clients, Consumer, Message, Producer
from correlator.worker.publish import Publisher
from correlator.worker.recovery import Recovery
from correlator.worker.subscriptions import SubscriptionApplier, SubscriptionFeed
from correlator.worker.topics import BrokerWatch, ensure_topics
from correlator.worker.topology_watch import TopologyWatch
from topology import Topology

log = logging.getLogger("correlator.worker.loop")


class _Parts:
    """The parts that need the clients, built by `Worker.start()`."""

    def __init__(self, worker: Worker, consumer: Consumer, producer: Producer) -> None:
        cfg = worker.config
        self.consumer: Final = consumer
        self.output: Final = Output(
            producer,
            flush_timeout=cfg.flush_timeout.total_seconds(),
            dlq_topic=cfg.dlq_topic,
            dlq_max_bytes=cfg.dlq_max_bytes,
            metrics=worker.metrics,
            wall=worker.wall,
            max_record_bytes=cfg.kafka.max_request_size,
        )
        self.buffer: Final = InputBuffer(
            cfg.alerts_topic,
            max_records=cfg.max_poll_records,
            merge_wait=cfg.merge_wait.total_seconds(),
            monotonic=worker.monotonic,
        )
        self.checkpointer: Final = Checkpointer(
            worker.engines,
            output=self.output,
            consumer=consumer,
            state_topic=worker.state_topic,
            metrics=worker.metrics,
            monotonic=worker.monotonic,
            wall=worker.wall,
        )
        self.decode: Final = Decode(
            worker.decoder,
            output=self.output,
            topology=worker.topology_watch,
            repartition_topic=worker.repartition_topic,
            partitions=worker.partitions,
            max_message_bytes=cfg.max_message_bytes,
            metrics=worker.metrics,
            wall=worker.wall,
            bounds=worker.settings.bounds,
        )
        publisher = Publisher(
            self.output,
            incidents_topic=cfg.incidents_topic,
            metrics=worker.metrics,
            on_update=worker.on_update,
            outputs=[(output.topic, output.format) for output in cfg.outputs],
        )
        self.correlate: Final = Correlate(
            worker.engines,
            output=self.output,
            publisher=publisher,
            checkpointer=self.checkpointer,
            metrics=worker.metrics,
            dedup_window=cfg.dedup_window,
            tick_interval=cfg.tick_interval.total_seconds(),
            per_batch=cfg.ingest_per == "batch",
            monotonic=worker.monotonic,
            wall=worker.wall,
        )
        self.broker: Final = BrokerWatch(
            worker.health,
            worker.metrics,
            worker.monotonic,
            timeout=cfg.broker_timeout.total_seconds(),
        )
        self.recovery: Final = Recovery(
            worker.engines,
            clients=worker.clients,
            output=self.output,
            buffer=self.buffer,
            topology=worker.topology_watch,
            engine_factory=worker.engine_factory,
            settings=worker.settings,
            repartition_topic=worker.repartition_topic,
            state_topic=worker.state_topic,
            idle_clock_rate=cfg.idle_clock_rate,
            health=worker.health,
            metrics=worker.metrics,
            monotonic=worker.monotonic,
        )
        self.subscriptions: Final = SubscriptionApplier(
            worker.subscriptions,
            worker.engines,
            publisher=publisher,
            checkpointer=self.checkpointer,
            metrics=worker.metrics,
            monotonic=worker.monotonic,
        )


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
        subscriptions: SubscriptionFeed | None = None,
    ) -> None:
        self.config = config
        self.subscriptions = subscriptions if subscriptions is not None else SubscriptionFeed()
        self.clients = clients
        self.metrics = metrics or Metrics()
        self.health = health or Health(config.liveness_timeout.total_seconds())
        self.decoder = decode or default_decoder()
        self.engine_factory = engine_factory or default_engine_factory()
        self.monotonic = monotonic
        self.wall = wall
        self.on_update = on_update
        self.settings = config.engine_settings()
        self.alerts_topic = config.alerts_topic
        self.repartition_topic = config.repartition_topic_name
        self.state_topic = config.state_topic_name
        self.partitions = 0
        self.engines: dict[int, EnginePartition] = {}
        """The engines of the repartition partitions this worker owns, by partition."""
        self.topology_watch = TopologyWatch(
            Path(config.topology_path()),
            load_topology or default_topology_loader(),
            poll_interval=config.topology_poll_interval.total_seconds(),
            metrics=self.metrics,
            monotonic=monotonic,
            wall=wall,
            on_change=self._topology_changed,
        )
        self._stop = threading.Event()
        self._parts: _Parts | None = None
        self._frozen_at = float("-inf")
        self._collected_at = monotonic()
        self._heap_trim = HeapTrim(
            config.heap_trim_interval.total_seconds(),
            self.monotonic,
            self.metrics.heap_trim_duration,
            self.metrics.heap_trim_released,
        )

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load the topology, create missing topics, join the group (no partitions yet)."""
        if self.config.gc_young_threshold:
            _, older, oldest = gc.get_threshold()
            gc.set_threshold(self.config.gc_young_threshold, older, oldest)
        self.topology_watch.load()
        self.partitions = ensure_topics(self.config, self.clients)
        producer = self.clients.producer()
        consumer = self.clients.consumer([self.alerts_topic, self.repartition_topic])
        self._parts = _Parts(self, consumer, producer)
        self.health.beat()
        log.info(
            "worker started: group %s, %s -> %s (%d partitions) -> %s",
            self.config.group_id,
            self.alerts_topic,
            self.repartition_topic,
            self.partitions,
            self.config.incidents_topic,
        )

    def stop(self) -> None:
        """Finish the current batch, then leave (safe from signal handlers and threads)."""
        self._stop.set()

    def request_reload(self) -> None:
        """Reload the topology at the next iteration (safe from signal handlers and threads)."""
        self.topology_watch.request_reload()

    def reload_topology(self, reason: str = "requested") -> bool:
        """Load, validate and swap in the topology; keep the last good one on failure."""
        return self.topology_watch.reload(reason)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def topology(self) -> Topology | None:
        """The topology in force (None before `start()`)."""
        return self.topology_watch.loaded

    @property
    def consumer(self) -> Consumer:
        return self._started().consumer

    @property
    def producer(self) -> Producer:
        return self._started().output.producer

    def run(self) -> int:
        """Loop until `stop()`; returns the process exit code."""
        try:
            while not self._stop.is_set():
                self.run_once()
        except FatalError as exc:
            log.error("stopping: %s", exc)
            self.close(clean=False)
            return 1
        except Exception:
            # A client error the Kafka client does not retry (authorisation, a deleted
            # topic...): nothing of the batch is committed; the restart resumes from the last
            # commit.
            log.exception("stopping on an unexpected error")
            self.close(clean=False)
            return 1
        self.close(clean=True)
        return 0

    def close(self, *, clean: bool) -> None:
        """Leave the group; `clean`: flush what was produced first. `run()` calls it."""
        self.health.stopping = True
        self.metrics.ready.set(0)
        parts = self._parts
        if parts is not None:
            parts.output.close(clean=clean)
            try:
                parts.consumer.close()  # leaves the group: the others take over at once
            except Exception as exc:
                log.warning("closing the consumer: %s", exc)
        log.info("worker stopped%s", "" if clean else " after an error")

    # -- one iteration ------------------------------------------------------------------------

    def run_once(self) -> None:
        parts = self._started()
        consumer = parts.consumer
        self.topology_watch.poll()
        messages = consumer.poll(
            self.config.poll_timeout.total_seconds(), self.config.max_poll_records
        )
        parts.recovery.follow(consumer)
        assignment = parts.recovery.assignment
        correlate: list[Message] = []
        for message in messages:
            if message.tp not in assignment:
                continue  # revoked while it was in flight; its new owner reads it
            if message.topic == self.alerts_topic:
                parts.buffer.add(message)
            else:
                correlate.append(message)
        decode = parts.buffer.take(consumer, assignment)
        if decode or correlate:
            self._process(parts, decode, correlate)
        parts.correlate.tick_idle()
        parts.subscriptions.apply()
        self._freeze_heap(restored=bool(parts.recovery.restored))
        self._heap_trim.maybe()
        parts.broker.observe(consumer)
        self._publish_metrics(consumer)
        self.health.beat()
        self.metrics.last_heartbeat.set(self.wall().timestamp())

    def _process(self, parts: _Parts, decode: list[Message], correlate: list[Message]) -> None:
        started = self.monotonic()
        batch = Batch()
        for message in decode:
            parts.decode(message, batch)
            batch.commits[message.tp] = message.offset + 1
        parts.correlate.ingest_batch(correlate, batch)
        for message in correlate:
            batch.commits[message.tp] = message.offset + 1
        parts.checkpointer.finish(batch)
        self.metrics.batch_records.labels(stage="decode").inc(len(decode))
        self.metrics.batch_records.labels(stage="correlate").inc(len(correlate))
        self.metrics.processing.observe(self.monotonic() - started)

    def _freeze_heap(self, *, restored: bool) -> None:
        """Move what the worker holds (engines, open incidents, topology) out of the garbage
        collector's reach: an automatic full collection walks every tracked object, which
        took 147 / 344 / 627 ms at 10k / 30k / 60k open incidents (bench/gc_pauses.py) and
        stalls the whole loop. After a restore with one full collection first (the worker
        is not ready yet, a pause costs nothing); then every `gc_freeze_interval` after a
        young collection only, so a periodic freeze never costs a full pause.

        What is frozen is never collected, and objects frozen while alive can die later in
        cycles (kafka-python's fetch futures, exception frames holding fetched records:
        ~500 objects a minute in the 2,000 alerts/s soak). So every `gc_full_interval`
        everything is unfrozen and collected once: ~2 s at 40,000 incidents, once an hour
        by default. (A full collection before every freeze also kept the garbage down, but
        cost up to 2.5 s a minute in the soak, walking a minute of kept state.)"""
        interval = self.config.gc_freeze_interval.total_seconds()
        if interval <= 0:
            return
        mono = self.monotonic()
        full = self.config.gc_full_interval.total_seconds()
        if full > 0 and mono - self._collected_at >= full:
            gc.unfreeze()
            gc.collect()
            self._collected_at = mono
            kind = "full"
        elif restored:
            gc.collect()
            kind = "full"
        elif mono - self._frozen_at < interval:
            return
        else:
            gc.collect(1)
            kind = "young"
        gc.freeze()
        self._frozen_at = self.monotonic()
        self.metrics.gc_freeze_duration.labels(kind=kind).observe(self._frozen_at - mono)

    def _started(self) -> _Parts:
        assert self._parts is not None, "start() first"
        return self._parts

    def _topology_changed(self, topology: Topology) -> None:
        for part in self.engines.values():
            part.engine.replace_topology(topology)
        self.health.topology_loaded = True

    def _publish_metrics(self, consumer: Consumer) -> None:
        self.metrics.publish_lag(LagSnapshot(consumer.positions()))
        stats = [part.stats for part in self.engines.values()]
        self.metrics.publish_engine(engine_snapshot(stats, len(self.engines)))
        self.metrics.engine_counters.observe(part.engine for part in self.engines.values())
        self.metrics.engine_bounds.publish(stats)
        self.metrics.ready.set(1 if self.health.ready().ok else 0)


__all__ = ["Worker"]
