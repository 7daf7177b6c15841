"""Persistence keys: which piece of engine state a snapshot entry or changelog record holds.

On the wire (snapshot dicts, the changelog topic's record keys) a key is text: `meta`,
`incident/<id>`, `alert/<fingerprint>` or `recurrence/<node>`; that form is part of the
changelog format and must not change (new kinds may be added). Inside the engine it is a
`StateKey`, so nothing builds or parses the text by hand.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class KeyKind(StrEnum):
    META = "meta"
    """the clock, the counters and the tombstones: one entry"""
    INCIDENT = "incident"
    """one incident with its member alerts"""
    ALERT = "alert"
    """one alert (its current occurrence), or the tombstone of a forgotten one"""
    RECURRENCE = "recurrence"
    """when incidents with this root cause node were resolved lately (`core.recurrence`)"""


class StateKey(NamedTuple):
    kind: KeyKind
    id: str = ""

    def format(self) -> str:
        if self.kind is KeyKind.META:
            return KeyKind.META.value
        return f"{self.kind.value}/{self.id}"

    @classmethod
    def parse(cls, text: str) -> StateKey | None:
        """The key `text` names, or None for a key this engine does not know."""
        if text == KeyKind.META.value:
            return META
        kind, sep, ident = text.partition("/")
        if not sep or kind not in _WITH_ID:
            return None
        return cls(KeyKind(kind), ident)


META = StateKey(KeyKind.META)
_WITH_ID = frozenset({KeyKind.INCIDENT.value, KeyKind.ALERT.value, KeyKind.RECURRENCE.value})


def incident_key(incident_id: str) -> StateKey:
    return StateKey(KeyKind.INCIDENT, incident_id)


def alert_key(fingerprint: str) -> StateKey:
    return StateKey(KeyKind.ALERT, fingerprint)


def recurrence_key(root: str) -> StateKey:
    return StateKey(KeyKind.RECURRENCE, root)
