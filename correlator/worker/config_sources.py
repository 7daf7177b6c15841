"""How `load_config` reads a worker's configuration: pydantic-settings with ordered sources
(the nested `CORRELATOR_*` environment, then the flat Kafka options, then the file), env prefix
`CORRELATOR_`, nested delimiter `__`, and errors in one line without pydantic's links."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.exceptions import SettingsError
from pydantic_settings.sources.utils import parse_env_vars

from correlator.worker.config import ENV_PREFIX, ConfigError, KafkaSettings, WorkerConfig

_KAFKA_FIELDS = frozenset(KafkaSettings.model_fields)

# The file and the environment of one `load_config` call, for the sources of `_Settings`
# (pydantic-settings asks the class, not the call, for its sources).
_CALL: ContextVar[tuple[dict[str, Any], Mapping[str, str]]] = ContextVar("correlator_config")


class _Environment(EnvSettingsSource):
    """`CORRELATOR_*` variables from a given mapping (tests pass their own, not os.environ)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env_vars = parse_env_vars(
            environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class _FlatKafka(PydanticBaseSettingsSource):
    """The Kafka client options without their section, as operators write them next to other
    Kafka tools: `CORRELATOR_SECURITY_PROTOCOL` for `CORRELATOR_KAFKA__SECURITY_PROTOCOL`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._values = {
            name[len(ENV_PREFIX) :].lower(): value
            for name, value in environ.items()
            if name.startswith(ENV_PREFIX)
            and name[len(ENV_PREFIX) :].lower() in _KAFKA_FIELDS
            and value != ""
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # only `kafka` is set, as a whole, in __call__

    def __call__(self) -> dict[str, Any]:
        return {"kafka": dict(self._values)} if self._values else {}


class _Settings(WorkerConfig, BaseSettings):
    """`WorkerConfig` read from ordered sources: the nested environment, then the flat Kafka
    options, then the file; the first source that sets a value wins, field by field (mappings
    are merged, so the environment can override one Kafka option of the file's section)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        data, environ = _CALL.get()
        return (
            _Environment(settings_cls, environ),
            _FlatKafka(settings_cls, environ),
            InitSettingsSource(settings_cls, init_kwargs=data),
        )


def _read_file(path: str | Path) -> dict[str, Any]:
    try:
        loaded: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: must be a mapping, not {type(loaded).__name__}")
    return loaded


def _problem(err: Mapping[str, Any]) -> str:
    """One validation error as `field: message`, without pydantic's documentation link."""
    where = ".".join(str(p) for p in err["loc"]) or "(top)"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def read_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> WorkerConfig:
    """Read `path` (YAML; optional) and overlay `environ` (default `os.environ`)."""
    data = _read_file(path) if path is not None else {}
    env = os.environ if environ is None else environ
    source = str(path) if path is not None else "defaults"
    if any(name.startswith(ENV_PREFIX) for name in env):
        source += " + environment"
    token = _CALL.set((data, env))
    try:
        loaded = _Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None
    except SettingsError as exc:  # an environment value that is not the JSON it must be
        raise ConfigError(f"{source}: {exc}") from None
    finally:
        _CALL.reset(token)
    # The plain model, field for field (nested models are taken as they are, not re-read).
    return WorkerConfig.model_validate(
        {name: getattr(loaded, name) for name in WorkerConfig.model_fields}
    )
