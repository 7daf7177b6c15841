"""The hand-checkable organisation and engine helpers of the engine tests, reused here."""

from tests.unit.engine.conftest import engine, org

__all__ = ["engine", "org"]
