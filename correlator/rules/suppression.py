"""Suppression: silences and maintenance windows.

A suppressed alert is kept and counted, never dropped, but opens no incident. Matchers use
Alertmanager's syntax (`name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`; regexes are
anchored, as in Alertmanager), matched against the labels plus `alertname`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from correlator.core.settings import Silence

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.:-]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str
    pattern: re.Pattern[str] | None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.pattern is not None
        hit = self.pattern.fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit


def parse_matcher(text: str) -> Matcher:
    hit = _MATCHER.match(text)
    if hit is None:
        raise ValueError(f'not a label matcher: {text!r} (expected name="value", !=, =~ or !~)')
    name, op, value = hit.groups()
    pattern = re.compile(value) if op in ("=~", "!~") else None
    return Matcher(name, op, value, pattern)


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
            if isinstance(item.matchers, dict):
                matchers = tuple(Matcher(k, "=", v, None) for k, v in sorted(item.matchers.items()))
            else:
                matchers = tuple(parse_matcher(m) for m in item.matchers)
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
