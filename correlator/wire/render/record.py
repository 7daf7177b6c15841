"""The native incident record (docs/formats.md), with text a desk agent can read out to a caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from correlator.core.construct import construct
from correlator.core.model import (
    SCHEMA_ID,
    Affected,
    AlertRecord,
    Assignment,
    Cost,
    IncidentRecord,
    Recurrence,
)
from correlator.core.settings import EngineSettings
from correlator.core.state import AlertState, Incident
from topology import Topology


def _name(table: Mapping[str, Any], key: str) -> str:
    item = table.get(key)
    return item.name if item is not None and item.name else key


def _join(items: Sequence[str], limit: int = 3) -> str:
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" and {len(items) - limit} more"
    if len(items) > 1:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return items[0] if items else ""


def _alert_record(alert: AlertState) -> AlertRecord:
    """Rendered once per change of the alert: an incident of hundreds of alerts is re-published
    on every change, and rebuilding every alert's record each time dominated the cost."""
    key = (
        alert.status,
        alert.starts_at,
        alert.ends_at,
        alert.severity,
        alert.flapping,
        alert.occurrences,
        alert.summary,
        alert.node,
    )
    cached = alert.rendered
    if cached is not None and cached[0] == key:
        record: AlertRecord = cached[1]
        return record
    record = _render_alert(alert)
    alert.rendered = (key, record)
    return record


#: One set shared by every rendered alert: pydantic keeps a per-instance set of the fields given,
#: which was half the memory of a cached alert record.
_ALERT_FIELDS = set(AlertRecord.model_fields)


def _render_alert(alert: AlertState) -> AlertRecord:
    # The engine's own state is already typed and checked: skip validation, and share the
    # labels dict instead of copying it (an alert's labels never change once stored).
    return construct(
        AlertRecord,
        _fields_set=_ALERT_FIELDS,
        fingerprint=alert.fingerprint,
        name=alert.name,
        node=alert.node,
        severity=alert.severity,
        status="firing" if alert.status == "firing" else "resolved",
        starts_at=alert.starts_at,
        ends_at=alert.ends_at if alert.status == "resolved" else None,
        summary=alert.summary,
        source=alert.source,
        labels=alert.labels,
        flapping=alert.flapping,
        occurrences=alert.occurrences,
    )


@dataclass(slots=True)
class _Tally:
    """What the text needs from the alerts, gathered in the one pass that renders them."""

    active: int = 0
    unmapped: bool = False


def _tally(incident: Incident) -> _Tally:
    """From the incident's aggregates: as cheap for 10,000 alerts as for 10."""
    tallies = incident.tallies
    tally = _Tally(active=incident.active_count)
    tally.unmapped = tallies[(None, True)] + tallies[(None, False)] > 0
    return tally


def describe(incident: Incident, graph: Topology, tally: _Tally | None = None) -> tuple[str, str]:
    """`(title, summary)` in plain words."""
    tally = tally or _tally(incident)
    verdict = incident.assessment
    root = verdict.root
    affected = verdict.affected
    # At risk or down is the engine's call (`Assessment.at_risk`), so the words, the price and
    # the priority of a record always agree.
    at_risk = verdict.at_risk
    if root is None:
        cause = "Unknown cause"
    elif root.node is None:
        cause = f"Alerts from an unmapped source ({root.name})"
    elif root.silent:
        cause = f"Probable {root.name} failure"
    elif at_risk:
        cause = f"{root.name} warning"
    else:
        cause = f"{root.name} failure"
    sites = [_name(graph.sites, s) for s in affected.sites]
    if affected.users:
        title = f"{cause}: {affected.users} people {'at risk' if at_risk else 'affected'}"
        if sites:
            title += f" ({_join(sites)})"
    elif affected.business_services:
        title = f"{cause}: {_join([_name(graph.nodes, b) for b in affected.business_services])}"
    else:
        title = f"{cause}: no users affected"
    if incident.status == "resolved":
        title = f"Resolved: {title}"
    elif incident.status == "merged":
        title = f"Merged into {incident.merged_into}: {title}"

    parts: list[str] = []
    if root is not None:
        parts.append(f"Probable cause: {root.name} ({round(root.confidence * 100)}% sure). ")
        parts.append(root.reason)
    # Say for whom: a WAN outage takes CRM away from one office, not from everyone.
    where = f" for the {sites[0]}" if len(sites) == 1 else f" for {_join(sites)}" if sites else ""
    if affected.business_services:
        services = _join([_name(graph.nodes, b) for b in affected.business_services], limit=5)
        state = "at risk" if at_risk else "unavailable"
        parts.append(f" Services {state}{where}: {services}.")
    if affected.user_groups:
        groups = _join([_name(graph.nodes, g) for g in affected.user_groups], limit=5)
        people = "person" if affected.users == 1 else "people"
        hit = "at risk (they can still work)" if at_risk else "affected"
        parts.append(f" {affected.users} {people} {hit}: {groups}")
        parts.append(f" at {_join(sites, limit=5)}." if sites else ".")
    elif root is not None and root.node is not None:
        parts.append(" No users are affected.")
    if verdict.assignment_group:
        parts.append(f" Assigned to {_name(graph.teams, verdict.assignment_group)}.")
    parts.append(f" {tally.active} of {len(incident.alerts)} alerts firing.")
    if incident.reopened:
        times = "once" if incident.reopened == 1 else f"{incident.reopened} times"
        parts.append(f" Reopened {times}.")
    return title, "".join(parts).strip()


def listed_alerts(incident: Incident, limit: int) -> list[AlertState]:
    """The alerts a record lists: firing first, most severe first, then oldest first (what a
    desk needs when the list is capped), at most `limit`; read off the incident's `order`,
    which the engine keeps sorted as members change."""
    members = incident.alerts
    return [members[key[-1]] for key in incident.order[:limit]]


def _capped(affected: Affected, limit: int) -> Affected:
    return construct(
        Affected,
        services=affected.services[:limit],
        business_services=affected.business_services[:limit],
        user_groups=affected.user_groups[:limit],
        users=affected.users,
        sites=affected.sites[:limit],
        services_total=len(affected.services),
        business_services_total=len(affected.business_services),
        user_groups_total=len(affected.user_groups),
        sites_total=len(affected.sites),
    )


def build_record(
    incident: Incident,
    graph: Topology,
    settings: EngineSettings,
    changes: Sequence[str],
) -> IncidentRecord:
    """Built from the engine's own typed state with `construct` (no re-validation: the
    record is bounded, but validating it on every version was a third of the cost)."""
    verdict = incident.assessment
    now = incident.updated_at
    alerts = listed_alerts(incident, settings.max_alerts_per_incident)
    tally = _tally(incident)
    title, summary = describe(incident, graph, tally)
    end = incident.resolved_at if incident.status == "resolved" else now
    accrued = incident.cost_accrued
    if incident.cost_since is not None and end is not None and end > incident.cost_since:
        hours = (end - incident.cost_since).total_seconds() / 3600
        accrued += verdict.cost_per_hour * hours
    team_id = verdict.assignment_group
    team = graph.teams.get(team_id) if team_id else None
    root = verdict.root
    limit = settings.max_candidates
    candidates = list(root.candidates[:limit]) if root is not None else []
    if root is not None and len(root.candidates) > limit:
        root = root.model_copy(update={"candidates": candidates})
    count, last = incident.recurrence
    return construct(
        IncidentRecord,
        schema_=SCHEMA_ID,
        id=incident.id,
        version=incident.version,
        status=incident.status.value,
        merged_into=incident.merged_into,
        title=title,
        summary=summary,
        opened_at=incident.opened_at,
        updated_at=now,
        resolved_at=incident.resolved_at if incident.status == "resolved" else None,
        root_cause=root,
        candidates=candidates,
        alerts=[_alert_record(a) for a in alerts],
        alerts_total=len(incident.alerts),
        alerts_firing=tally.active,
        candidates_total=len(verdict.candidates),
        affected=_capped(verdict.affected, settings.max_affected_listed),
        at_risk=verdict.at_risk,
        impact=verdict.impact,
        urgency=verdict.urgency,
        priority=verdict.priority,
        assignment_group=team_id,
        assignment=(
            construct(
                Assignment,
                id=team_id,
                name=team.name if team else None,
                contact=team.contact if team else None,
            )
            if team_id
            else None
        ),
        next_update_at=incident.next_update_at if incident.status == "open" else None,
        cost=construct(
            Cost,
            per_hour=verdict.cost_per_hour,
            accrued=round(accrued, 2),
            currency=verdict.currency,
            at_risk_per_hour=verdict.at_risk_per_hour,
        ),
        unmapped=tally.unmapped,
        reopened=incident.reopened,
        subscribers=sorted(incident.subscribers),
        recurrence=construct(
            Recurrence,
            count=count,
            window_days=settings.recurrence_window.total_seconds() / 86400,
            last_resolved_at=last,
        ),
        changes=list(changes),
    )
