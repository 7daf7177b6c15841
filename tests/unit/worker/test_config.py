"""`correlator run` configuration: file, environment, defaults (docs/cli.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from correlator.worker.config import ConfigError, load_config
from correlator.worker.kafka.options import client_options


def test_defaults_are_the_contract_table() -> None:
    config = load_config(None, {})
    assert config.bootstrap_servers == "localhost:9092"
    assert config.group_id == "correlator"
    assert config.alerts_topic == "alerts"
    assert config.incidents_topic == "incidents"
    assert config.dlq_topic == "alerts.dlq"
    assert config.topology is None
    with pytest.raises(ConfigError, match="no topology given"):
        config.topology_path()
    assert config.rules is None
    assert config.http_port == 9630
    assert config.repartition_topic_name == "correlator-repartition"
    assert config.state_topic_name == "correlator-state"


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text(
        "bootstrap_servers: kafka-1:9092\n"
        "group_id: from-file\n"
        "http_port: 9000\n"
        "tick_interval: 5s\n"
        "partitions: {repartition: 24, incidents: 3}\n"
        "kafka: {session_timeout_ms: 10000}\n"
    )
    env = {
        "CORRELATOR_GROUP_ID": "from-env",
        "CORRELATOR_HTTP_PORT": "9700",
        "CORRELATOR_PARTITIONS__REPARTITION": "48",
        "CORRELATOR_SECURITY_PROTOCOL": "SASL_SSL",
        "CORRELATOR_SASL_MECHANISM": "SCRAM-SHA-512",
        "CORRELATOR_SASL_PLAIN_USERNAME": "worker",
        "CORRELATOR_SASL_PLAIN_PASSWORD": "s3cret",
        "CORRELATOR_SSL_CAFILE": "/etc/ca.pem",
        "CORRELATOR_TEST_BOOTSTRAP": "ignored: names no setting",
    }
    config = load_config(path, env)
    assert config.bootstrap_servers == "kafka-1:9092"
    assert config.group_id == "from-env"
    assert config.http_port == 9700
    assert config.tick_interval == timedelta(seconds=5)
    assert config.partitions.repartition == 48
    assert config.partitions.incidents == 3
    assert config.kafka.session_timeout_ms == 10000
    assert config.repartition_topic_name == "from-env-repartition"
    options = client_options(config)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_password"] == "s3cret"
    assert options["ssl_cafile"] == "/etc/ca.pem"
    assert "s3cret" not in str(config.redacted())


def test_engine_settings_from_the_file_or_a_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("engine:\n  lifecycle: {hold_down: 2m}\n")
    assert load_config(path, {}).engine_settings().lifecycle.hold_down == timedelta(minutes=2)
    rules = tmp_path / "rules.yaml"
    rules.write_text("lifecycle: {hold_down: 7m}\n")
    config = load_config(path, {"CORRELATOR_RULES": str(rules)})
    assert config.engine_settings().lifecycle.hold_down == timedelta(minutes=7)


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("http_port: 99999\n", {}, "http_port"),
        ("no_such_key: 1\n", {}, "no_such_key"),
        ("engine: {lifecycle: {hold_down: soon}}\n", {}, "hold_down"),
        ("", {"CORRELATOR_HTTP_PORT": "many"}, "http_port"),
        ("[1, 2]\n", {}, "mapping"),
        ("a: [\n", {}, "YAML"),
        ("alerts_topic: incidents\n", {}, "distinct"),
    ],
)
def test_bad_configuration_is_refused_with_the_field_named(
    tmp_path: Path, text: str, env: dict[str, str], needle: str
) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle) as err:
        load_config(path, env)
    assert str(path) in str(err.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml", {})


def test_outputs_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("outputs:\n  - {topic: incidents.snow, format: servicenow}\n")
    config = load_config(path, {})
    assert [(o.topic, o.format) for o in config.outputs] == [("incidents.snow", "servicenow")]
    env = {"CORRELATOR_OUTPUTS": '[{"topic": "incidents.ce", "format": "cloudevents"}]'}
    config = load_config(path, env)  # the environment wins, as for any other setting
    assert [(o.topic, o.format) for o in config.outputs] == [("incidents.ce", "cloudevents")]
    assert load_config(None, {}).outputs == []


def test_an_unknown_output_format_is_named_in_one_line_without_links(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("outputs:\n  - {topic: x, format: jira}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    message = str(err.value)
    assert "outputs.0.format" in message and "jira" in message and "cloudevents" in message
    assert "\n" not in message and "http" not in message and "Value error" not in message


def test_output_topics_must_differ_from_the_others(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("outputs:\n  - {topic: incidents, format: cloudevents}\n")
    with pytest.raises(ConfigError, match="distinct"):
        load_config(path, {})


def test_nested_environment_merges_into_the_file_section(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("kafka: {session_timeout_ms: 10000, client_id: from-file}\n")
    env = {
        "CORRELATOR_KAFKA__CLIENT_ID": "from-env",
        "CORRELATOR_POLL_TIMEOUT": "1m30s",
        "CORRELATOR_TOPOLOGY": "",  # empty counts as unset
    }
    config = load_config(path, env)
    assert config.kafka.client_id == "from-env"
    assert config.kafka.session_timeout_ms == 10000  # kept from the file
    assert config.poll_timeout == timedelta(minutes=1, seconds=30)
    assert config.topology is None
