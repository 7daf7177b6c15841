"""The incident record as a row for ServiceNow's `incident` table (Table API, JSON).

The body is what a forwarder POSTs (first version) or PATCHes (later versions, found by
`correlation_id`) to `/api/now/table/incident`. Every value is a string, as the Table API
returns them. Reference fields (`assignment_group`, `cmdb_ci`, `business_service`) carry the
names the topology knows; the Table API resolves display values when they are unique, and a
forwarder with `sys_id`s can map them. The state codes are ServiceNow's defaults:

=========  ===========  ==================================================================
code       state        when
=========  ===========  ==================================================================
1          New          the first version of an incident
2          In Progress  later versions while it is open (including a reopen)
6          Resolved     all its alerts cleared (with close_code and close_notes)
7          Closed       merged into another incident (close_code `Duplicate`)
=========  ===========  ==================================================================
"""

from __future__ import annotations

from typing import Final

import orjson

from correlator.core.model import IncidentRecord

SHORT_DESCRIPTION_MAX: Final = 160
#: The default length of the incident table's description column.
DESCRIPTION_MAX: Final = 4000
CORRELATION_DISPLAY: Final = "incident-correlator"
STATE_NEW, STATE_IN_PROGRESS, STATE_RESOLVED, STATE_CLOSED = "1", "2", "6", "7"
#: Alerts listed in the description; the rest are counted.
ALERT_LINES: Final = 15
#: ... each summary cut to this, so the list and its "more" line fit in the description.
ALERT_SUMMARY_MAX: Final = 160

Headers = list[tuple[str, bytes]]


def _truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def state_code(record: IncidentRecord) -> str:
    if record.status == "resolved":
        return STATE_RESOLVED
    if record.status == "merged":
        return STATE_CLOSED
    return STATE_NEW if record.version == 1 else STATE_IN_PROGRESS


def _description(record: IncidentRecord) -> str:
    lines = [record.summary, ""]
    # The record's summary already names the probable cause and why.
    affected = record.affected
    if affected.business_services:
        lines.append("Business services: " + ", ".join(affected.business_services))
    if affected.user_groups:
        lines.append(f"User groups ({affected.users} people): " + ", ".join(affected.user_groups))
    if record.cost.per_hour:
        lines.append(
            f"Lost productivity: {record.cost.per_hour:,.0f} {record.cost.currency}/hour, "
            f"{record.cost.accrued:,.0f} so far."
        )
    elif record.at_risk and record.cost.at_risk_per_hour:
        # People can still work: nothing is lost yet, but the desk should know the stake.
        lines.append(
            f"At risk: nobody has lost time yet; {record.cost.at_risk_per_hour:,.0f} "
            f"{record.cost.currency}/hour if it becomes an outage."
        )
    lines.append(f"Alerts ({record.alerts_total}, {record.alerts_firing} firing):")
    for alert in record.alerts[:ALERT_LINES]:
        where = f" on {alert.node}" if alert.node else ""
        summary = _truncate(alert.summary, ALERT_SUMMARY_MAX)
        lines.append(f"- [{alert.status}] {alert.severity} {alert.name}{where}: {summary}")
    if len(record.alerts) > ALERT_LINES:
        lines.append(f"- ... and {len(record.alerts) - ALERT_LINES} more")
    return _truncate_block("\n".join(lines), DESCRIPTION_MAX)


def _truncate_block(text: str, limit: int) -> str:
    # Keeps line breaks (unlike _truncate): the description is read as a block of text.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def servicenow_incident(record: IncidentRecord) -> dict[str, str]:
    """The incident-table fields for `record`."""
    root = record.root_cause
    body = {
        "short_description": _truncate(record.title, SHORT_DESCRIPTION_MAX),
        "description": _description(record),
        "impact": str(record.impact),
        "urgency": str(record.urgency),
        # Most instances derive priority from impact x urgency and ignore this on insert; the
        # correlator's matrix is ITIL's default, so both agree unless the rules file changes it.
        "priority": str(record.priority),
        "state": state_code(record),
        "assignment_group": record.assignment_group or "",
        "cmdb_ci": root.name if root is not None and root.node is not None else "",
        "business_service": (
            record.affected.business_services[0] if record.affected.business_services else ""
        ),
        "correlation_id": record.id,
        "correlation_display": CORRELATION_DISPLAY,
        "work_notes": f"Correlator update {record.version}: "
        + (", ".join(record.changes) or "no change listed"),
    }
    if record.status == "resolved":
        body["close_code"] = "Solution provided"
        body["close_notes"] = "Every correlated alert cleared; resolved by the correlator."
    elif record.status == "merged":
        body["close_code"] = "Duplicate"
        body["close_notes"] = f"Merged into correlator incident {record.merged_into}."
    return body


def render_servicenow(record: IncidentRecord) -> tuple[bytes, Headers]:
    return orjson.dumps(servicenow_incident(record)), [("content-type", b"application/json")]
