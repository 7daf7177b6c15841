"""Suppression: silences and maintenance windows.

A suppressed alert is kept and counted, never dropped, but opens no incident. Matchers use
Alertmanager's syntax and semantics (correlator/rules/matchers.py): a set such as
`{alertname="x", severity=~"crit.*"}`, a list of such strings, or a mapping meaning equality;
they are matched against the labels plus `alertname`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from correlator.core.settings import Silence
from correlator.rules.matchers import Matcher, matchers_from, parse_matcher

__all__ = ["CompiledSilence", "Matcher", "compile_silences", "muted_by", "parse_matcher"]


@dataclass(frozen=True, slots=True)
class CompiledSilence:
    id: str
    kind: str
    """'silence' or 'maintenance': reported as the reason an alert is muted."""
    matchers: tuple[Matcher, ...]
    nodes: frozenset[str]
    starts_at: datetime | None
    ends_at: datetime | None

    def active_at(self, now: datetime) -> bool:
        if self.starts_at is not None and now < self.starts_at:
            return False
        return self.ends_at is None or now < self.ends_at

    def mutes(self, name: str, labels: Mapping[str, str], node: str | None, now: datetime) -> bool:
        if not self.active_at(now):
            return False
        if self.nodes and node in self.nodes and not self.matchers:
            return True
        if not self.matchers:
            return False
        if self.nodes and node not in self.nodes:
            return False
        full = {**labels, "alertname": name}
        return all(m.matches(full) for m in self.matchers)


def compile_silences(
    silences: Sequence[Silence], maintenance: Sequence[Silence]
) -> tuple[CompiledSilence, ...]:
    compiled: list[CompiledSilence] = []
    for kind, items in (("silence", silences), ("maintenance", maintenance)):
        for index, item in enumerate(items):
            matchers = matchers_from(item.matchers)
            if not matchers and not item.nodes:
                raise ValueError(f"{kind} #{index + 1} has neither matchers nor nodes")
            compiled.append(
                CompiledSilence(
                    id=item.id or f"{kind}-{index + 1}",
                    kind=kind,
                    matchers=matchers,
                    nodes=frozenset(item.nodes),
                    starts_at=item.starts_at,
                    ends_at=item.ends_at,
                )
            )
    return tuple(compiled)


def muted_by(
    silences: Sequence[CompiledSilence],
    name: str,
    labels: Mapping[str, str],
    node: str | None,
    now: datetime,
) -> str | None:
    """`'<kind>:<id>'` of the first silence muting `alert` at `now`, else None."""
    for silence in silences:
        if silence.mutes(name, labels, node, now):
            return f"{silence.kind}:{silence.id}"
    return None
