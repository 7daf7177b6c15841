"""Assessment: the incident stages (root cause -> impact -> priority -> assignment), run in the
order `INCIDENT_STAGES` (below) lists. Each reads what the stages before it left in the
incident's `assessment` and adds its own part; each returns True (none ends the run early).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Final, Protocol, TypeVar

from correlator.core.model import IncidentPhase
from correlator.core.state import AlertState, Incident
from correlator.core.store import Store
from correlator.rules import impact, priority, rootcause
from topology import Topology

#: The highest impact an at-risk incident (only warnings on its root cause) can have.
AT_RISK_IMPACT: Final = 2


def root_cause(st: Store, inc: Incident, now: datetime) -> bool:
    graph = st.topology
    structure = st.structures.get(inc.id)
    if structure is None:
        structure = st.structures[inc.id] = rootcause.Structure()
        for state in inc.alerts.values():
            if state.node is not None and state.node in graph.nodes:
                structure.add(state.node, st.index)
    members = _members(inc, structure, graph)
    ranking = rootcause.rank(graph, st.index, members, inc.unmapped_key, structure)
    verdict = inc.assessment
    verdict.root = ranking.root
    verdict.candidates = ranking.candidates
    verdict.root_nodes = ranking.root_nodes
    verdict.at_risk = _at_risk(inc)
    return True


def _at_risk(inc: Incident) -> bool:
    """People can still work: the root cause has alerts of its own and every one of them is
    mild (warning, info), resolved or not. A silent or unmapped root is presumed down. One
    critical or error alert on a root makes it an outage, and it stays one: the people did
    lose time, and a priority that fell back while the incident lasts would restart the
    update cadence for nothing."""
    verdict = inc.assessment
    root = verdict.root
    if root is None or root.node is None or root.silent:
        return False
    tallies = inc.tallies
    mild = sum(tallies[(node, False)] for node in verdict.root_nodes)
    down = sum(tallies[(node, True)] for node in verdict.root_nodes)
    return mild > 0 and down == 0


def _members(
    inc: Incident, structure: rootcause.Structure, graph: Topology
) -> Iterator[AlertState]:
    """The alerts `rank` needs, lazily: it reads them only when the structure alone cannot
    decide, and then only for the severity and first start of each *unexplained* node (or,
    with no mapped member, for the names of the unmapped ones). Yielding just those members
    keeps a 10,000-alert incident as cheap to rank as a small one."""
    if not structure.members:
        yield from (a for a in inc.alerts.values() if a.node is None or a.node in graph.nodes)
        return
    for node in structure.unexplained:
        yield from inc.by_node.get(node, {}).values()


def blast_radius(st: Store, inc: Incident, now: datetime) -> bool:
    verdict = inc.assessment
    affected, potential, currency = impact.assess(st.topology, verdict.root_nodes)
    # People at risk can still work: nothing is lost yet, so nothing accrues; what would be
    # lost if it turned into an outage is reported apart (`at_risk_per_hour`).
    per_hour = 0.0 if verdict.at_risk else potential
    if per_hour != verdict.cost_per_hour:
        accrue(inc, now)  # book the time so far at the old rate before the rate changes
    verdict.affected = affected
    verdict.cost_per_hour = per_hour
    verdict.at_risk_per_hour = potential if verdict.at_risk else 0.0
    verdict.currency = currency or st.topology.defaults.currency
    return True


def prioritise(st: Store, inc: Incident, now: datetime) -> bool:
    graph = st.topology
    verdict = inc.assessment
    settings = st.settings.priority
    criticalities = [graph.nodes[n].criticality for n in verdict.root_nodes]
    criticalities += [graph.nodes[b].criticality for b in verdict.affected.business_services]
    level = priority.impact_level(
        verdict.affected.users,
        verdict.cost_per_hour + verdict.at_risk_per_hour,
        criticalities,
        settings,
    )
    if verdict.at_risk:
        # What is at stake still ranks it, but nothing is widespread while people can work.
        level = max(level, AT_RISK_IMPACT)
    # Urgency follows the firing alerts; while recovering it keeps its last value (the rule
    # and its reason are in rules/priority.py).
    urgency = priority.current_urgency(
        [severity for severity, n in inc.firing.items() if n > 0],
        (a.severity for a in inc.alerts.values()),
        verdict.urgency if inc.version else None,
        settings,
    )
    new_priority = priority.priority_of(level, urgency, settings)
    if inc.version and new_priority != verdict.priority and inc.status == IncidentPhase.OPEN:
        inc.anchor = now  # a change of priority restarts the update cadence
    verdict.impact, verdict.urgency, verdict.priority = level, urgency, new_priority
    return True


def assign(st: Store, inc: Incident, now: datetime) -> bool:
    """The owner of the first root node that has one, else a `team`/`owner` label."""
    inc.assessment.assignment_group = _owner(st, inc)
    return True


def _owner(st: Store, inc: Incident) -> str | None:
    for root in inc.assessment.root_nodes:
        owner = st.topology.nodes[root].owner
        if owner:
            return owner
    for state in inc.alerts.values():
        for label in ("team", "owner"):
            if state.labels.get(label):
                return state.labels[label]
    return None


def accrue(inc: Incident, now: datetime) -> None:
    """Book the cost run up since `cost_since` at the current rate (before the rate changes)."""
    if inc.cost_since is not None and now > inc.cost_since:
        hours = (now - inc.cost_since).total_seconds() / 3600
        inc.cost_accrued += inc.assessment.cost_per_hour * hours
        inc.cost_since = now


T_contra = TypeVar("T_contra", contravariant=True)


class Stage(Protocol[T_contra]):
    """One step of the rules pipeline: `(store, item, now) -> bool`; False ends the run."""

    def __call__(self, st: Store, item: T_contra, now: datetime, /) -> bool: ...


INCIDENT_STAGES: Final[Sequence[Stage[Incident]]] = (
    root_cause,
    blast_radius,
    prioritise,
    assign,
)


def run(st: Store, inc: Incident, now: datetime) -> None:
    """Run `INCIDENT_STAGES` over `inc`."""
    for stage in INCIDENT_STAGES:
        if not stage(st, inc, now):
            break
    inc.assessed = True
