"""librdkafka settings and callbacks shared by the confluent-kafka producer and consumer."""

from __future__ import annotations

import logging
from typing import Any

import confluent_kafka

from correlator.worker.config import WorkerConfig

log = logging.getLogger("correlator.worker.kafka.confluent")


def client_config(config: WorkerConfig) -> dict[str, Any]:
    """librdkafka properties every confluent-kafka client gets: bootstrap, identity, security,
    timeouts (the `kafka.*` settings under librdkafka's names)."""
    k = config.kafka
    conf: dict[str, Any] = {
        "bootstrap.servers": config.bootstrap_servers,
        "client.id": k.client_id,
        "security.protocol": k.security_protocol.lower(),
        # A network request unanswered this long is failed and retried (kafka-python's
        # request_timeout_ms).
        "socket.timeout.ms": k.request_timeout_ms,
        # Give up reconnecting quickly per attempt but keep trying: a broker restart takes
        # seconds, and the loop's liveness check catches a cluster that never comes back.
        "reconnect.backoff.max.ms": 5_000,
        # librdkafka's own log lines go through Python logging (served by poll/flush), so
        # they get the worker's format and level instead of raw lines on stderr.
        "logger": logging.getLogger("correlator.librdkafka"),
    }
    if k.sasl_mechanism:
        conf["sasl.mechanism"] = k.sasl_mechanism
        if k.sasl_plain_username is not None:
            conf["sasl.username"] = k.sasl_plain_username
        if k.sasl_plain_password is not None:
            conf["sasl.password"] = k.sasl_plain_password.get_secret_value()
        if k.sasl_mechanism.upper() == "GSSAPI":
            conf["sasl.kerberos.service.name"] = k.sasl_kerberos_service_name
        # OAUTHBEARER: give `sasl.oauthbearer.*` (or `oauth_cb`) in kafka.librdkafka_options.
    if k.security_protocol in ("SSL", "SASL_SSL"):
        # No CA file: kafka-python trusts the system's CAs; librdkafka's bundled OpenSSL must
        # be told to look for them ("probe" searches the usual locations).
        conf["ssl.ca.location"] = k.ssl_cafile or "probe"
        if k.ssl_certfile:
            conf["ssl.certificate.location"] = k.ssl_certfile
        if k.ssl_keyfile:
            conf["ssl.key.location"] = k.ssl_keyfile
        if k.ssl_password is not None:
            conf["ssl.key.password"] = k.ssl_password.get_secret_value()
        conf["ssl.endpoint.identification.algorithm"] = "https" if k.ssl_check_hostname else "none"
    conf.update(k.librdkafka_options)
    return conf


def log_error(err: confluent_kafka.KafkaError) -> None:
    """librdkafka's error callback (served by poll/flush): mostly transient connection
    trouble it retries by itself; a fatal error also fails every later send and flush."""
    if err.fatal():
        log.error("kafka client: fatal error: %s", err.str())
    else:
        log.warning("kafka client: %s", err.str())
