"""The `correlator run` process: a `Worker`, its HTTP endpoints, and the signals.

`serve()` builds the Kafka clients, the worker and the HTTP server (metrics, health, the
webhook input), installs SIGTERM/SIGINT (finish the batch, then stop) and SIGHUP (reload the
topology), and runs the loop in the calling thread until it stops. `main()` adds reading the
configuration and setting up logging.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Mapping
from types import FrameType
from typing import TYPE_CHECKING

import orjson

from correlator.core.model import IncidentRecord
from correlator.desk.subscriptions import subscriptions_topic
from correlator.worker.config import ConfigError, WorkerConfig, load_config
from correlator.worker.http import Health, HttpService, Webhook
from correlator.worker.logs import setup_logging
from correlator.worker.loop import Worker
from correlator.worker.metrics import Metrics
from correlator.worker.ports import Clients
from correlator.worker.subscriptions import SubscriptionFeed

if TYPE_CHECKING:
    from correlator.worker.kafka.incidents_view import DeskRuntime
    from correlator.worker.kafka.subscriptions_reader import SubscriptionsReader

log = logging.getLogger("correlator.worker.loop")


def kafka_clients(config: WorkerConfig) -> Clients:
    """The clients `config.client` names; the Kafka libraries are imported only here."""
    if config.client == "confluent":
        from correlator.worker.kafka.confluent import ConfluentClients  # noqa: PLC0415 - optional dep

        return ConfluentClients(config)
    from correlator.worker.kafka.client import KafkaClients  # noqa: PLC0415

    return KafkaClients(config)


def install_signal_handlers(worker: Worker) -> None:
    """SIGTERM/SIGINT: finish the batch, then stop; SIGHUP: reload the topology."""

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: finishing the batch, then stopping", signal.Signals(signum).name)
        worker.stop()

    def _hup(_signum: int, _frame: FrameType | None) -> None:
        worker.request_reload()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _hup)


def serve(
    config: WorkerConfig,
    clients: Clients | None = None,
    *,
    install_signals: bool = True,
    metrics: Metrics | None = None,
    on_update: Callable[[IncidentRecord], None] | None = None,
    worker_ready: Callable[[Worker], None] | None = None,
    desk: bool | None = None,
    subscriptions: bool | None = None,
) -> int:
    """Run a worker with its HTTP endpoints until SIGTERM/SIGINT (or `worker.stop()`).

    `desk` (default: when the clients are real Kafka clients) also serves the desk API and page
    from this worker's own view of the incidents topic; `subscriptions` (same default) reads
    the subscriptions topic into the engines this worker runs."""
    if desk is None:
        desk = config.desk and clients is None
    if subscriptions is None:
        subscriptions = clients is None
    if clients is None:
        clients = kafka_clients(config)
    metrics = metrics or Metrics()
    health = Health(config.liveness_timeout.total_seconds())
    feed = SubscriptionFeed()
    try:
        worker = Worker(
            config,
            clients,
            metrics=metrics,
            health=health,
            on_update=on_update,
            subscriptions=feed,
        )
    except Exception as exc:
        log.error("cannot start: %s", exc)
        return 2
    reader = _read_subscriptions(config, feed) if subscriptions else None
    if install_signals:
        install_signal_handlers(worker)
    runtime = _open_desk(config, metrics, worker) if desk else None
    try:
        server = HttpService(
            metrics.registry,
            health,
            config.http_host,
            config.http_port,
            desk=runtime.desk if runtime else None,
            subscriptions_topic=runtime.subscriptions_topic if runtime else None,
        )
    except OSError as exc:
        log.error("cannot serve on %s:%d: %s", config.http_host, config.http_port, exc)
        if runtime is not None:
            runtime.close()
        if reader is not None:
            reader.close()
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
        if runtime is not None:
            runtime.close()
        if reader is not None:
            reader.close()


def _read_subscriptions(config: WorkerConfig, feed: SubscriptionFeed) -> SubscriptionsReader:
    from correlator.worker.kafka.subscriptions_reader import (  # noqa: PLC0415 - Kafka client
        SubscriptionsReader,
    )

    return SubscriptionsReader(config, feed, subscriptions_topic(config.group_id)).start()


def _open_desk(config: WorkerConfig, metrics: Metrics, worker: Worker) -> DeskRuntime:
    from correlator.worker.kafka.incidents_view import open_desk  # noqa: PLC0415 - Kafka client

    return open_desk(config, metrics.registry, lambda: worker.topology)


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


__all__ = ["install_signal_handlers", "kafka_clients", "main", "serve"]
