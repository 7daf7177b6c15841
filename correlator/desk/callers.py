"""Is this caller affected? The person from the topology's user directory, the open incidents
whose affected user groups include theirs, and one sentence per incident to read out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from correlator.desk.view import DeskRecord
from topology import Topology


@dataclass(frozen=True, slots=True)
class Caller:
    id: str
    name: str | None
    email: str | None
    groups: tuple[str, ...]
    site: str | None
    """The site of the caller's first user group that has one (offices, not data centres,
    are where people sit)."""
    site_name: str | None


def find_caller(topology: Topology, who: str) -> Caller | None:
    """By user id, else by e-mail address (case-insensitive: people type them as they like)."""
    user = topology.users.get(who)
    if user is None and "@" in who:
        wanted = who.strip().casefold()
        user = next(
            (u for u in topology.users.values() if u.email and u.email.casefold() == wanted),
            None,
        )
    if user is None:
        return None
    site = next(
        (
            info.site
            for g in user.groups
            if (info := topology.nodes.get(g)) is not None and info.site is not None
        ),
        None,
    )
    site_info = topology.sites.get(site) if site is not None else None
    return Caller(
        id=user.id,
        name=user.name,
        email=user.email,
        groups=tuple(user.groups),
        site=site,
        site_name=(site_info.name or site) if site_info is not None else site,
    )


def affecting(caller: Caller, records: Sequence[DeskRecord]) -> list[DeskRecord]:
    """The open incidents among `records` that affect one of the caller's groups. Groups are
    per site (docs/formats.md, topology), so a WAN outage that hits Dallas does not match a New York
    caller who uses the same service."""
    mine = set(caller.groups)
    return [r for r in records if r.status == "open" and mine & set(r.affected.user_groups)]


def when(ts: datetime, now: datetime) -> str:
    """`05:12 UTC`, with the date when it is not today: a desk reads this out across shifts."""
    if ts.date() == now.date():
        return ts.strftime("%H:%M UTC")
    return ts.strftime("%d %b %H:%M UTC").lstrip("0")


def _minutes(delta_seconds: float) -> str:
    minutes = max(0, round(delta_seconds / 60))
    if minutes < 120:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"{minutes / 60:.1f} hours"


def _and(items: Sequence[str]) -> str:
    if len(items) > 1:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return items[0] if items else ""


def _name(topology: Topology | None, node: str) -> str:
    info = topology.nodes.get(node) if topology is not None else None
    return info.name if info is not None and info.name else node


def say(record: DeskRecord, caller: Caller, topology: Topology | None, now: datetime) -> str:
    """One sentence: what is broken, since when, what of the caller's it hits, who works on
    it, when the next update is due."""
    root = record.root_cause
    broken = root.name if root is not None and root.name else "An unidentified fault"
    state = "has been degraded" if record.at_risk else "has been down"
    sentence = f"{broken} {state} since {when(record.opened_at, now)}"
    services = list(record.affected.business_services)
    if topology is not None:
        # Name only what the caller's own groups use, not everything the outage touches.
        used = {
            dep
            for g in caller.groups
            if g in topology.nodes and g in record.affected.user_groups
            for dep in topology.dependencies(g)
        }
        services = [s for s in services if s in used] or services
    names = [_name(topology, s) for s in services[:4]]
    if names:
        hits = "puts your " if record.at_risk else "affects your "
        sentence += f"; it {hits}{_and(names)}" + (" at risk" if record.at_risk else "")
    team = record.assignment.name if record.assignment and record.assignment.name else None
    team = team or record.assignment_group
    sentence += f"; {team} is working on it" if team else "; no resolver group is known yet"
    due = record.next_update_at
    if due is not None:
        if due < now:
            sentence += f"; the next update was due at {when(due, now)} and is late"
        else:
            left = _minutes((due - now).total_seconds())
            sentence += f"; the next update is due at {when(due, now)}, in {left}"
    return sentence + "."
