"""The one error a topology load raises: every problem found, each naming its file and node."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a topology: where (file, node) and what."""

    file: str
    node: str | None
    message: str

    def __str__(self) -> str:
        if self.node is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}: node {self.node!r}: {self.message}"


class TopologyError(Exception):
    """A topology that cannot be used. Carries all problems, not just the first, so that one
    round of fixing is enough."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"invalid topology ({count} problem{'s' if count != 1 else ''})"
        return "\n".join([head, *(f"  {problem}" for problem in self.problems)])
