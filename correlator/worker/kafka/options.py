"""The options every kafka-python client of the worker gets, from the configuration.

Plain data: importing this module does not import kafka-python.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from correlator.worker.config import WorkerConfig


def client_options(config: WorkerConfig) -> dict[str, Any]:
    """Options every kafka-python client gets: bootstrap, identity, security, timeouts."""
    k = config.kafka
    options: dict[str, Any] = {
        "bootstrap_servers": config.bootstrap_servers.split(","),
        "client_id": k.client_id,
        "security_protocol": k.security_protocol,
        "request_timeout_ms": k.request_timeout_ms,
        # Give up reconnecting quickly per attempt but keep trying: a broker restart takes
        # seconds, and the loop's liveness check catches a cluster that never comes back.
        "reconnect_backoff_max_ms": 5_000,
    }
    if k.sasl_mechanism:
        options["sasl_mechanism"] = k.sasl_mechanism
        options["sasl_plain_username"] = k.sasl_plain_username
        if k.sasl_plain_password is not None:
            options["sasl_plain_password"] = k.sasl_plain_password.get_secret_value()
        options["sasl_kerberos_service_name"] = k.sasl_kerberos_service_name
    if k.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_cafile"] = k.ssl_cafile
        options["ssl_certfile"] = k.ssl_certfile
        options["ssl_keyfile"] = k.ssl_keyfile
        options["ssl_check_hostname"] = k.ssl_check_hostname
        if k.ssl_password is not None:
            options["ssl_password"] = k.ssl_password.get_secret_value()
    options.update(k.options)
    return options


def only_known(options: Mapping[str, Any], allowed: Mapping[str, Any]) -> dict[str, Any]:
    """kafka-python refuses unknown options; `kafka.options` may hold producer-only ones."""
    return {key: value for key, value in options.items() if key in allowed}


__all__ = ["client_options", "only_known"]
