"""The pure engine: no I/O, no threads, no wall clock. Its public face is re-exported here."""

from __future__ import annotations

from correlator.core.engine import Correlator, EngineStats
from correlator.core.persist import StateValue
from correlator.core.store import IncidentUpdate, RecordRenderer

__all__ = ["Correlator", "EngineStats", "IncidentUpdate", "RecordRenderer", "StateValue"]
