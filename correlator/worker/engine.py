"""The engine-worker seam: what the worker needs of an engine, fully typed.

`correlator.core.Correlator` satisfies `Engine`; tests and benchmarks may pass any other
implementation through `Worker(engine_factory=...)`. The state an engine hands out and takes
back is JSON (it goes to the state topic as orjson), hence `JsonValue` rather than `Any`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeAlias

from correlator.core import Correlator, EngineStats, IncidentUpdate
from correlator.core.model import Alert
from correlator.core.settings import EngineSettings
from topology import Topology

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
"""A value as orjson reads and writes it: what one state key holds."""

StateChanges: TypeAlias = Mapping[str, JsonValue]
"""State keys changed since the last call, with their values (None: the key was deleted,
written as a tombstone)."""


class Engine(Protocol):
    """What the worker needs of `correlator.core.Correlator`."""

    def ingest_many(self, alerts: Iterable[tuple[Alert, datetime]]) -> Sequence[IncidentUpdate]: ...
    def tick(self, now: datetime) -> Sequence[IncidentUpdate]: ...
    def restore(self, state: Mapping[str, JsonValue]) -> None: ...
    def take_state_changes(self) -> StateChanges: ...
    def replace_topology(self, topology: Topology) -> None: ...
    def stats(self) -> EngineStats: ...


class Decoder(Protocol):
    """Turns one raw input message into alerts; raises `DecodeError` for unreadable input."""

    def __call__(self, raw: bytes, *, received_at: datetime, max_bytes: int) -> list[Alert]: ...


EngineFactory = Callable[[Topology, EngineSettings], Engine]
TopologyLoader = Callable[[str], Topology]


def default_decoder() -> Decoder:
    from correlator.wire.decode import decode  # noqa: PLC0415

    return decode


def default_engine_factory() -> EngineFactory:
    from correlator.wire.render.record import build_record  # noqa: PLC0415

    def build(topology: Topology, settings: EngineSettings) -> Engine:
        return Correlator(topology, settings, render=build_record)

    return build


def default_topology_loader() -> TopologyLoader:
    from topology import load_topology  # noqa: PLC0415

    return load_topology


__all__ = [
    "Decoder",
    "Engine",
    "EngineFactory",
    "JsonValue",
    "StateChanges",
    "TopologyLoader",
    "default_decoder",
    "default_engine_factory",
    "default_topology_loader",
]
