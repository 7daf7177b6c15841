"""The worker's own errors; every one derives from `correlator.errors.CorrelatorError`.

The Kafka-facing ones (`CommitFailedError`, `ProduceError`) live in `ports`, the changelog's
(`StateError`) in `changelog`, the configuration's (`ConfigError`) in `config`.
"""

from __future__ import annotations

from correlator.errors import CorrelatorError


class FatalError(CorrelatorError):
    """The worker cannot go on (outputs could not be written, state unreadable): it exits
    non-zero without committing, and its restart resumes from the last commit."""


__all__ = ["FatalError"]
