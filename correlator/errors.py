"""The one exception hierarchy of the correlator.

Every error the product raises on purpose derives from `CorrelatorError`, so the command line
can turn any of them into a one-line message and a documented exit code (see docs/cli.md),
and a caller can catch "anything the correlator refused" without naming each kind.
Topology errors live in the separate `topology` package (`topology.TopologyError`); the CLI
treats them alike.
"""

from __future__ import annotations


class CorrelatorError(Exception):
    """Base of every deliberate error of the correlator."""
