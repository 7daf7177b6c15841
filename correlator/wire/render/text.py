"""Text for people: the demo's running story and `topology impact`'s answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from correlator.core.model import IncidentRecord

_CHANGE_WORDS = {
    "opened": "opened",
    "alert_added": "new alert",
    "alert_resolved": "alert cleared",
    "alert_refired": "alert fired again",
    "alert_flapping": "alert flapping",
    "severity_changed": "severity changed",
    "merged_in": "another incident merged in",
    "merged": "merged",
    "reopened": "reopened",
    "resolved": "resolved",
    "status": "",
    "root_cause": "new root cause",
    "candidates": "candidates re-ranked",
    "priority": "priority changed",
    "impact": "impact changed",
    "urgency": "urgency changed",
    "assignment": "reassigned",
    "affected": "blast radius changed",
    "subscribers": "new subscriber",
    "update_due": "status update due",
}


def _money(amount: float, currency: str) -> str:
    return f"{amount:,.0f} {currency}"


def _utc(ts: datetime) -> datetime:
    # Records carry aware UTC times; a naive one is taken as UTC (the engine's convention).
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def utc_time(ts: datetime | None, day: date | None = None, *, seconds: bool = False) -> str:
    """`05:30 UTC`, with the date in front when it is not `day` (the incident's, so a desk
    never reads yesterday's 23:50 as tonight's) or when no `day` is given."""
    if ts is None:
        return "--:-- UTC"
    ts = _utc(ts)
    clock = ts.strftime("%H:%M:%S" if seconds else "%H:%M") + " UTC"
    return clock if ts.date() == day else f"{ts.date().isoformat()} {clock}"


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 re-send`, `2 re-sends`: the count with its noun agreeing."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def _minutes(later: datetime, earlier: datetime) -> str:
    minutes = int((later - earlier).total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def display_names(topology: Any) -> dict[str, str]:
    """Node and site ids -> the names people know them by, for `describe_update`."""
    names = {n: info.name for n, info in topology.nodes.items()}
    names.update({s: site.name or s for s, site in topology.sites.items()})
    return names


def describe_update(record: IncidentRecord, *, names: dict[str, str] | None = None) -> str:
    """A few lines a desk agent can read: what happened, why, who is hurt, what to tell them."""
    names = names or {}
    label = names.get
    head = {
        "open": "NEW INCIDENT" if record.version == 1 else "UPDATE",
        "resolved": "RESOLVED",
        "merged": "MERGED",
    }[record.status]
    if record.status == "open" and record.reopened and "reopened" in record.changes:
        head = "REOPENED"
    words = (_CHANGE_WORDS.get(c, c) for c in record.changes if c != "opened")
    what = ", ".join(w for w in words if w)
    day = _utc(record.opened_at).date()
    # A new incident shows its day once; later times show a date only when it differs.
    clock = utc_time(record.updated_at, None if record.version == 1 else day)
    lines = [
        f"{clock}  {head} {record.id} v{record.version}  P{record.priority}"
        + (f"  ({what})" if what and head == "UPDATE" else ""),
        f"       {record.title}",
    ]
    pad = "       "
    if record.status == "merged":
        lines.append(f"{pad}Its alerts now belong to {record.merged_into}; follow that one.")
        return "\n".join(lines)
    root = record.root_cause
    if root is not None:
        lines.append(f"{pad}Probable cause: {root.name} [{root.kind}], {root.confidence:.0%} sure")
        lines.append(f"{pad}  why: {root.reason}")
    affected = record.affected
    at_risk = record.at_risk
    if affected.users:
        groups = ", ".join(label(g, g) or g for g in affected.user_groups)
        sites = ", ".join(label(s, s) or s for s in affected.sites)
        at = f" at {sites}" if sites else ""
        people = plural(affected.users, "person", "people")
        if at_risk:
            lines.append(f"{pad}Who is at risk: {people} ({groups}){at}; they can still work")
        else:
            lines.append(f"{pad}Who is affected: {people} ({groups}){at}")
    else:
        lines.append(f"{pad}Who is affected: nobody; no user group depends on it")
    if affected.business_services:
        services = ", ".join(label(b, b) or b for b in affected.business_services)
        # For whom: a WAN outage takes CRM away from one office, not from everyone.
        where = [label(s, s) or s for s in affected.sites]
        whom = f" for the {where[0]}" if len(where) == 1 else ""
        state = "at risk" if at_risk else "unavailable"
        lines.append(f"{pad}Services {state}{whom}: {services}")
    team = record.assignment.name if record.assignment and record.assignment.name else None
    contact = record.assignment.contact if record.assignment else None
    resolver = team or record.assignment_group or "nobody (no owner known)"
    if contact:
        resolver += f" <{contact}>"
    lines.append(
        f"{pad}Priority P{record.priority} (impact {record.impact}, urgency {record.urgency}); "
        f"resolver group: {resolver}"
    )
    cost = record.cost
    if record.status == "open" and record.next_update_at is not None:
        if at_risk:
            price = (
                f"nobody has lost time yet ({_money(cost.at_risk_per_hour, cost.currency)}/hour "
                "if it becomes an outage)"
            )
            if cost.accrued:
                price += f"; {_money(cost.accrued, cost.currency)} lost earlier"
        else:
            price = (
                f"lost productivity {_money(cost.per_hour, cost.currency)}/hour, "
                f"{_money(cost.accrued, cost.currency)} so far"
            )
        lines.append(
            f"{pad}Next update to users due {utc_time(record.next_update_at, day)} "
            f"(in {_minutes(record.next_update_at, record.updated_at)}); {price}"
        )
    elif record.status == "resolved" and record.resolved_at is not None:
        # At risk to the end, nothing was down: "restored" would tell the desk otherwise.
        done = "Risk cleared" if at_risk else "Service restored"
        lost = (
            "nobody lost time"
            if at_risk and not cost.accrued
            else f"lost productivity {_money(cost.accrued, cost.currency)}"
        )
        lines.append(
            f"{pad}{done} at {utc_time(record.resolved_at, day)} after "
            f"{_minutes(record.resolved_at, record.opened_at)}; {lost}"
        )
    firing = [a for a in record.alerts if a.status == "firing"]
    shown = ", ".join(f"{a.name} on {a.node or 'unmapped'}" for a in firing[:4])
    more = f" and {len(firing) - 4} more" if len(firing) > 4 else ""
    listed = f": {shown}{more}" if firing else ""
    lines.append(f"{pad}Alerts: {len(firing)} of {len(record.alerts)} firing{listed}")
    if record.unmapped:
        lines.append(f"{pad}Note: some alerts could not be placed on the topology")
    return "\n".join(lines)


def describe_impact(topology: Any, failed: Sequence[str], found: Any, owners: Sequence[str]) -> str:
    """`correlator topology impact`, for a person."""
    nodes = topology.nodes
    names = [f"{nodes[n].name} ({n})" for n in failed]
    listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
    lines = [f"If {listed} {'fails' if len(names) == 1 else 'fail'}:"]
    if found.users:
        count = len(found.user_groups)
        lines.append(f"  People affected: {found.users} in {plural(count, 'group')}")
        for group in found.user_groups:
            info = nodes[group]
            site = topology.sites[info.site].name if info.site in topology.sites else info.site
            # A group without a site (remote staff) is not "at ?": it is nowhere in particular.
            at = f" at {site}" if site else ""
            people = "person" if info.users == 1 else "people"
            lines.append(f"    - {info.name} ({group}): {info.users} {people}{at}")
    else:
        lines.append("  People affected: nobody")
    if found.business_services:
        lines.append(
            "  Business services down: " + ", ".join(nodes[b].name for b in found.business_services)
        )
    technical = [s for s in found.services if s not in failed]
    if technical:
        shown = ", ".join(nodes[s].name for s in technical[:12])
        more = f" and {len(technical) - 12} more" if len(technical) > 12 else ""
        lines.append(f"  Also down: {shown}{more}")
    if found.sites:
        lines.append(
            "  Sites: "
            + ", ".join(topology.sites[s].name if s in topology.sites else s for s in found.sites)
        )
    lines.append(f"  Lost productivity: {_money(found.cost_per_hour, found.currency)} per hour")
    for owner in owners:
        team = topology.teams.get(owner)
        contact = f" <{team.contact}>" if team is not None and team.contact else ""
        lines.append(f"  Resolver group: {team.name if team else owner}{contact}")
    return "\n".join(lines)
