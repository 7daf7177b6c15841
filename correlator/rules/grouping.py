"""Grouping: which open incident a new alert belongs to.

Two alerting nodes share a cause when one failure could explain both, judged on the dependency
graph (never on time alone):

* **directly**: one is a cause of the other (its failure would take the other down, redundancy
  honoured) within `max_hops`;
* **jointly**: neither explains the other, but together they exhaust a redundancy pool (both
  web servers of a pool: nodes of one kind), so their joint failure takes down something that
  neither takes down alone;
* **through a silent dependency**: both depend on a node that raised no alert itself, and so many
  of that node's dependents are alerting that chance is an unlikely explanation. "Unlikely" is a
  Poisson tail at the current alert density: two alerts below a database with ten dependents are
  telling; two alerts below the DNS that 3,000 nodes use are not. And enough of what it would
  take down must be alerting (`silent_min_coverage`): a core switch whose other dependents are
  all quiet is not down. Only alerts that started within `evidence.ONSET_WINDOW` of the new one
  count: a dependency under which alerts started far apart is not one failure (see
  `correlator.rules.evidence`).

* **through a firing cause further away**: beyond `max_hops`, up to `firing_cause_hops`, one
  alerting node whose failure would take the other down still groups the two when both are
  active and their alerts started within `ONSET_WINDOW` of each other. A rack switch's deepest
  dependents sit at the end of service call chains, 10-20 hops above it; without this rule
  each chain's first alert opened an incident of its own, merged into the switch's one only
  when an alert in between arrived. Timing and an active cause keep the longer reach from
  gluing a slow, unrelated fault to a long-running one.

An alert related to several open incidents merges them into the oldest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from correlator.core.settings import GroupingSettings
from correlator.rules.evidence import ONSET_WINDOW, Evidence
from topology import Topology

#: Kinds that are not machines: people, and business services (abstractions over machines).
#: They seldom raise alerts of their own, so they are left out when judging what share of a
#: dependency's dependents is alerting.
UNMONITORED_KINDS = frozenset({"user_group", "business_service"})


#: Nodes whose causes are kept in the index's own cache before it starts afresh.
CAUSES_CACHE_LIMIT = 50_000


def poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean)."""
    if k <= 0:
        return 1.0
    if mean <= 0.0:
        return 0.0
    term = math.exp(-mean)
    below = term
    for i in range(1, k):
        term *= mean / i
        below += term
    return max(0.0, 1.0 - below)


def _bump(table: dict[str, dict[str, int]], key: str, incident_id: str, delta: int) -> None:
    row = table.get(key)
    if row is None:
        row = table[key] = {}
    count = row.get(incident_id, 0) + delta
    if count > 0:
        row[incident_id] = count
    else:
        row.pop(incident_id, None)
        if not row:
            del table[key]


class GroupingIndex:
    """Indexes that make finding related incidents cost O(causes of one node), not O(incidents)."""

    def __init__(
        self,
        graph: Topology,
        settings: GroupingSettings,
        background: Callable[[], int] = lambda: 0,
    ) -> None:
        self.graph = graph
        self.background = background
        """How many independent faults are open now (the engine's open incidents)."""
        self.settings = settings
        self._hops = settings.max_hops
        self._monitorable = max(
            1, sum(1 for n in graph.nodes.values() if n.kind not in UNMONITORED_KINDS)
        )
        self._blast: dict[str, int] = {}
        self._causes: dict[str, Mapping[str, int]] = {}
        #: node -> {incident id: alerts on that node in that incident}
        self.node_incidents: dict[str, dict[str, int]] = {}
        #: cause c -> {incident id: member nodes of that incident that c would take down}
        self.cause_incidents: dict[str, dict[str, int]] = {}
        #: node -> number of its alerts currently active (firing or flapping)
        self.firing_nodes: dict[str, int] = {}
        #: cause c -> number of distinct active nodes that c would take down
        self.alerting_under: dict[str, int] = {}
        #: node -> when its latest alert occurrence started (timing evidence for silent causes)
        self.onset: dict[str, datetime] = {}
        self._far_hops = settings.firing_cause_hops
        self._far_causes: dict[str, frozenset[str]] = {}
        self._far_effects: dict[str, frozenset[str]] = {}

    def causes(self, node: str) -> Mapping[str, int]:
        # A plain dict in front of the topology's locked LRU: ranking a storm looks up the
        # same few hundred nodes over and over, and the LRU's lock and reordering dominated.
        found = self._causes.get(node)
        if found is None:
            if node not in self.graph.nodes:
                return {}
            if len(self._causes) >= CAUSES_CACHE_LIMIT:
                self._causes.clear()
            found = self._causes[node] = self.graph.causes(node, self._hops)
        return found

    def far_causes(self, node: str) -> frozenset[str]:
        """Causes of `node` beyond `max_hops`, within `firing_cause_hops`."""
        return self._far(node, self._far_causes, self.graph.causes, self.causes)

    def far_effects(self, node: str) -> frozenset[str]:
        """What a failure of `node` takes down beyond `max_hops`, within `firing_cause_hops`."""
        return self._far(node, self._far_effects, self.graph.effects, self.graph_effects)

    def graph_effects(self, node: str) -> Mapping[str, int]:
        return self.graph.effects(node, self._hops)

    def _far(
        self,
        node: str,
        cache: dict[str, frozenset[str]],
        walk: Callable[[str, int], Mapping[str, int]],
        near: Callable[[str], Mapping[str, int]],
    ) -> frozenset[str]:
        found = cache.get(node)
        if found is None:
            if self._far_hops <= self._hops or node not in self.graph.nodes:
                return frozenset()
            if len(cache) >= CAUSES_CACHE_LIMIT:
                cache.clear()
            close = near(node)
            found = cache[node] = frozenset(n for n in walk(node, self._far_hops) if n not in close)
        return found

    # -- membership ---------------------------------------------------------------------------

    def add_member(self, incident_id: str, node: str) -> None:
        _bump(self.node_incidents, node, incident_id, 1)
        for cause in self.causes(node):
            _bump(self.cause_incidents, cause, incident_id, 1)

    def remove_member(self, incident_id: str, node: str) -> None:
        _bump(self.node_incidents, node, incident_id, -1)
        for cause in self.causes(node):
            _bump(self.cause_incidents, cause, incident_id, -1)

    def set_active(self, node: str, delta: int) -> None:
        before = self.firing_nodes.get(node, 0)
        after = before + delta
        if after > 0:
            self.firing_nodes[node] = after
        else:
            self.firing_nodes.pop(node, None)
            self.onset.pop(node, None)
        if (before > 0) == (after > 0):
            return
        step = 1 if after > 0 else -1
        for cause in self.causes(node):
            count = self.alerting_under.get(cause, 0) + step
            if count > 0:
                self.alerting_under[cause] = count
            else:
                self.alerting_under.pop(cause, None)

    # -- queries ------------------------------------------------------------------------------

    def blast(self, node: str) -> int:
        """How many machine nodes a failure of `node` takes down (itself excluded)."""
        size = self._blast.get(node)
        if size is None:
            nodes = self.graph.nodes
            size = sum(
                1
                for other in self.graph.effects(node, self._hops)
                if other != node and nodes[other].kind not in UNMONITORED_KINDS
            )
            self._blast[node] = size
        return size

    def evidence(self, cause: str, at: datetime | None = None) -> Evidence:
        """How much of what `cause` would break is alerting now (counting only alerts that
        started within `ONSET_WINDOW` of `at`, and none that something outside it explains)."""
        return Evidence(self.blast(cause), self._unexplained_under(cause, at))

    def plausible_silent(self, cause: str, at: datetime | None = None) -> bool:
        """Is `cause`, raising no alert itself, a believable common cause of the alerts below it?"""
        if cause in self.firing_nodes:
            return False
        under = self.alerting_under.get(cause, 0)
        if under < 2:
            return False  # never credible (see `Evidence.credible_silent`): skip the blast walk
        coverage = self.settings.silent_min_coverage
        if not Evidence(self.blast(cause), under).credible_silent(coverage):
            return False  # cheap test first; the exact count below walks the dependents
        found = self.evidence(cause, at)
        if not found.credible_silent(coverage) or self._dominated(cause, found):
            return False
        under, blast = found.alerting, found.expected
        # Background: independent faults elsewhere, estimated by the open incidents (an alert
        # storm under one firing root is one fault, not three hundred chances).
        others = self.background() - len(self.cause_incidents.get(cause, ()))
        density = max(self.settings.noise_floor, max(0, others) / self._monitorable)
        return poisson_tail(under, density * blast) <= self.settings.silent_significance

    def _dominated(self, cause: str, found: Evidence) -> bool:
        """Does a smaller credible quiet cause inside `cause`'s blast radius explain most of the
        same alerts? Then `cause` is the better story only if what it alone would add to the
        blast radius is itself largely alerting (a host under which one database's clients all
        alert, and one unrelated client of another database, is that database's fault, not the
        host's). Both are counted within `cause`'s own reach, so that hop limits compare alike."""
        coverage = self.settings.silent_min_coverage
        firing = self.firing_nodes
        below = self.graph.effects(cause, self._hops)
        nodes = self.graph.nodes
        for inner in below:
            # Only quiet inner causes compete: an alerting node below `cause` is one more sign
            # that `cause` is down, not a rival explanation of its own symptoms.
            if inner == cause or inner in firing or self.alerting_under.get(inner, 0) < 2:
                continue
            inner_expected = inner_alerting = 0
            for node in self.graph.effects(inner, self._hops):
                if node == inner or node not in below or nodes[node].kind in UNMONITORED_KINDS:
                    continue
                inner_expected += 1
                inner_alerting += node in firing
            if inner_alerting < 2 or inner_alerting < coverage * inner_expected:
                continue  # not a credible explanation itself
            extra = found.expected - inner_expected
            if extra > 0 and max(0, found.alerting - inner_alerting) < coverage * extra:
                return True
        return False

    def _unexplained_under(self, cause: str, at: datetime | None = None) -> int:
        """Active nodes below `cause` that no active node outside its subtree explains, and
        (given `at`) whose alert started within `ONSET_WINDOW` of `at`."""
        below = self.graph.effects(cause, self._hops)
        firing = self.firing_nodes
        onset = self.onset
        # Walk the smaller side: a storm's firing set can be far smaller than a blast radius,
        # and a quiet estate's far larger. The count does not depend on the order.
        if len(firing) < len(below):
            nodes: Iterable[str] = (node for node in firing if node in below)
        else:
            nodes = (node for node in below if node in firing)
        firing_keys = firing.keys()
        count = 0
        for node in nodes:
            if node == cause:
                continue
            if at is not None:
                started = onset.get(node)
                if started is not None and abs(started - at) > ONSET_WINDOW:
                    continue
            causes = self.causes(node)
            # Most nodes have no active cause at all: one C-level test settles them.
            if firing_keys.isdisjoint(causes) or not any(
                other in firing and other != cause and other not in below for other in causes
            ):
                count += 1
        return count

    def explained(self, node: str) -> bool:
        """Is an active node among the causes of `node`?"""
        firing = self.firing_nodes
        return any(cause in firing for cause in self.causes(node))

    def credible(self, evidence: Evidence) -> bool:
        """For naming a silent root inside one incident (see `Evidence.credible_silent`)."""
        return evidence.credible_silent(self.settings.silent_min_coverage)

    def note_onset(self, node: str, at: datetime) -> None:
        """Record that an alert on firing `node` started at `at`. The onset kept is the latest
        start among the node's firing alerts, a function of the alerts alone, so a restored
        engine (which notes every firing alert again) gets the same timing evidence."""
        if node in self.firing_nodes:
            current = self.onset.get(node)
            if current is None or at > current:
                self.onset[node] = at

    def related_incidents(self, node: str, at: datetime | None = None) -> set[str]:
        """Open incidents that share a cause with an alert on `node` that started at `at`
        (recorded as the node's onset: the timing evidence for later silent-cause tests)."""
        if at is not None:
            self.note_onset(node, at)
        found: set[str] = set(self.node_incidents.get(node, ()))
        found.update(self.cause_incidents.get(node, ()))  # node explains their members
        for partner in self.joint_partners(node):
            found.update(self.node_incidents.get(partner, ()))
        causes = self.causes(node)
        for cause in causes:
            found.update(self.node_incidents.get(cause, ()))  # their member explains node
        for cause in causes:
            if cause in self.node_incidents:
                continue
            sharing = self.cause_incidents.get(cause)
            # The plausibility test walks the cause's dependents: only pay for it when it
            # could bring in an incident not found already (in a storm it seldom can).
            if sharing and not found.issuperset(sharing) and self.plausible_silent(cause, at):
                found.update(sharing)
        if at is not None and node in self.firing_nodes:
            self._firing_far(node, at, found)
        return found

    def _firing_far(self, node: str, at: datetime, found: set[str]) -> None:
        """Add the incidents related to active `node` (alert started at `at`) through an active
        cause, or an active dependent, beyond `max_hops` (see the module docstring).

        The longer walks are paid only where they can change the outcome: a far cause is looked
        for when nothing near relates the alert (it would open an incident of its own), and far
        dependents when `node` could be the failure behind them: something it would take down
        nearby is alerting, and no active cause explains `node` itself (that cause, further
        down, already relates the far alerts from whichever end alerted last)."""
        firing, incidents = self.firing_nodes, self.node_incidents
        if not found:
            for cause in self.far_causes(node):
                if cause in firing and cause in incidents and self._near_onset(cause, at):
                    found.update(incidents[cause])
        if node not in self.alerting_under or self.explained(node):
            return
        far = self.far_effects(node)
        members: Iterable[str] = (
            (m for m in incidents if m in far) if len(incidents) < len(far) else far
        )
        for member in members:
            held = incidents.get(member)
            if held and member in firing and self._near_onset(member, at):
                found.update(held)

    def _near_onset(self, node: str, at: datetime) -> bool:
        # As in `_unexplained_under`: a firing node with no onset noted counts as timely.
        started = self.onset.get(node)
        return started is None or abs(started - at) <= ONSET_WINDOW

    def joint_partners(self, node: str) -> set[str]:
        """Active nodes whose failure together with `node` exhausts a redundancy group."""
        graph = self.graph
        if node not in graph.nodes:
            return set()
        partners: set[str] = set()
        if self.explained(node):
            return partners  # already down for another reason: nothing joint about it
        kind = graph.nodes[node].kind
        alone = graph.down_set((node,))
        for dependent in graph.dependents(node):
            if dependent in alone:
                continue
            for peer in graph.dependencies(dependent):
                if peer == node or peer not in self.firing_nodes or peer in partners:
                    continue
                if graph.nodes[peer].kind != kind or self.explained(peer):
                    # Pools are alike (two web servers, two mail servers). A WAN link down while
                    # the far site's spare server is also down is two faults, not one.
                    continue
                if dependent in graph.down_set((node, peer)) and dependent not in graph.down_set(
                    (peer,)
                ):
                    partners.add(peer)
        return partners
