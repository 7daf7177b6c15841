"""Score the engine against scenario ground truth.

Each scenario's event lines go through `correlator.replay.replay_lines` (a fresh engine each),
the final state of every incident is its latest version, merged records are ignored, and:

* root-cause top-1: for each true fault, the incident holding most of its alerts names the
  true root in `root_cause.node`;
* pairwise grouping precision / recall / F1 over alert pairs (micro-averaged over the batch);
* exact-group rate: share of true groups (faults, and each noise alert alone) reproduced
  exactly as one incident's alert set;
* head-count exactness: that incident's `affected.users == topology.impact({root}).users`;
* silent-root top-1: top-1 restricted to faults whose root raised no alert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from correlator.core.engine import Correlator
from correlator.core.model import IncidentRecord
from correlator.core.settings import EngineSettings
from correlator.replay import final_states, replay_updates
from correlator.wire.render.record import build_record
from topology import Topology

from .generator import Scenario

#: Default settings. A record lists at most `max_alerts_per_incident` alerts; for an incident
#: whose record is cut there, membership is read from the engine's own state instead.
#: Records list at most `max_alerts_per_incident` alerts (25 by default); scoring reads the
#: membership off the records, so it lists as many as it did before the cap was lowered.
SCORING_SETTINGS = EngineSettings(max_alerts_per_incident=500)

TARGETS = {
    "top1": 0.95,
    "f1": 0.95,
    "exact_groups": 0.90,
    "headcount": 0.95,
    "silent_top1": 0.80,
}


@dataclass(frozen=True, slots=True)
class FaultOutcome:
    scenario: str
    root: str
    silent: bool
    late_root: bool
    alerts: int
    incident: str | None
    named: str | None
    share: float
    """fraction of the fault's alerts in that incident"""
    named_peak: str | None
    """informational: the root that incident named while most of the fault's alerts fired"""
    users_expected: int
    users_got: int | None
    exact_group: bool
    foreign: int
    """alerts of other true groups (other faults, noise) in that incident"""

    @property
    def top1(self) -> bool:
        return self.named == self.root

    @property
    def headcount(self) -> bool:
        return self.users_got == self.users_expected


@dataclass(slots=True)
class ScenarioResult:
    scenario: Scenario
    incidents: dict[str, IncidentRecord]
    faults: list[FaultOutcome]
    true_pairs: int = 0
    predicted_pairs: int = 0
    correct_pairs: int = 0
    groups: int = 0
    exact_groups: int = 0
    missing: list[str] = field(default_factory=list)
    """fingerprints in no non-merged incident"""
    duplicated: list[str] = field(default_factory=list)
    """fingerprints in more than one non-merged incident"""
    split_noise: list[str] = field(default_factory=list)
    """noise fingerprints that did not end up alone"""

    @property
    def clean(self) -> bool:
        return (
            all(f.top1 and f.headcount and f.exact_group for f in self.faults)
            and self.exact_groups == self.groups
            and not self.missing
            and not self.duplicated
        )


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def run(topology: Topology, scenario: Scenario) -> tuple[list[IncidentRecord], dict[str, set[str]]]:
    """Every record the engine publishes for one scenario, in order, and the full alert set of
    each incident whose record was cut at `max_alerts_per_incident`, read from the engine when
    that record was published (a resolved incident is forgotten later, so reading the engine
    only at the end loses the membership of large faults that cleared early)."""
    engine = Correlator(topology, SCORING_SETTINGS, render=build_record)
    cap = SCORING_SETTINGS.max_alerts_per_incident
    records: list[IncidentRecord] = []
    full: dict[str, set[str]] = {}
    for update in replay_updates(engine, scenario.lines):
        record = update.record
        records.append(record)
        if len(record.alerts) >= cap and record.id in engine.incidents:
            full[record.id] = set(engine.incidents[record.id].alerts)
    return records, full


def final(records: Iterable[IncidentRecord]) -> dict[str, IncidentRecord]:
    """The final state of every incident that was not merged away."""
    return {k: r for k, r in final_states(records).items() if r.status != "merged"}


def _peak(records: Sequence[IncidentRecord], inc_id: str, fps: frozenset[str]) -> str | None:
    """The root named by `inc_id` while most of `fps` were firing (latest such version)."""
    best: tuple[int, int] | None = None
    named: str | None = None
    for record in records:
        if record.id != inc_id or record.status != "open":
            continue
        firing = sum(1 for a in record.alerts if a.status == "firing" and a.fingerprint in fps)
        if best is None or (firing, record.version) >= best:
            best = (firing, record.version)
            named = record.root_cause.node if record.root_cause else None
    return named


def score(topology: Topology, scenario: Scenario) -> ScenarioResult:
    records, full = run(topology, scenario)
    incidents = final(records)
    members: dict[str, set[str]] = {}
    owner: dict[str, str] = {}
    seen: Counter[str] = Counter()
    cap = SCORING_SETTINGS.max_alerts_per_incident
    for inc_id in sorted(incidents):
        fps = {a.fingerprint for a in incidents[inc_id].alerts}
        if len(fps) >= cap and inc_id in full:
            fps = full[inc_id]
        members[inc_id] = fps
        for fp in fps:
            seen[fp] += 1
            owner.setdefault(fp, inc_id)
    every = scenario.fingerprints
    result = ScenarioResult(scenario=scenario, incidents=incidents, faults=[])
    result.missing = sorted(fp for fp in every if fp not in owner)
    result.duplicated = sorted(fp for fp in every if seen[fp] > 1)

    # Pairwise: alerts in no incident count as singletons of their own.
    predicted: dict[str, set[str]] = {}
    for fp in every:
        predicted.setdefault(owner.get(fp, f"none:{fp}"), set()).add(fp)
    truth = scenario.groups
    result.true_pairs = sum(_pairs(len(g)) for g in truth)
    result.predicted_pairs = sum(_pairs(len(g)) for g in predicted.values())
    result.correct_pairs = sum(
        _pairs(len(g & p)) for g in truth for p in predicted.values() if g & p
    )
    incident_sets = {frozenset(fps) for fps in members.values()}
    result.groups = len(truth)
    result.exact_groups = sum(1 for g in truth if g in incident_sets)
    result.split_noise = [fp for fp in scenario.noise if frozenset({fp}) not in incident_sets]

    for fault in scenario.faults:
        votes = Counter(owner[fp] for fp in fault.fingerprints if fp in owner)
        best: str | None = None
        if votes:
            best = min(votes, key=lambda i: (-votes[i], i))
        record = incidents.get(best) if best else None
        named = record.root_cause.node if record and record.root_cause else None
        result.faults.append(
            FaultOutcome(
                scenario=scenario.name,
                root=fault.root,
                silent=fault.silent,
                late_root=fault.late_root,
                alerts=len(fault.fingerprints),
                incident=best,
                named=named,
                share=votes[best] / len(fault.fingerprints) if best else 0.0,
                named_peak=_peak(records, best, fault.fingerprints) if best else None,
                users_expected=fault.users,
                users_got=record.affected.users if record else None,
                exact_group=fault.fingerprints in incident_sets,
                foreign=len(members[best] - fault.fingerprints) if best else 0,
            )
        )
    return result


@dataclass(slots=True)
class Summary:
    label: str
    scenarios: int
    faults: int
    silent_faults: int
    late_root_faults: int
    multi_fault_scenarios: int
    alerts: int
    noise_alerts: int
    top1: float
    silent_top1: float
    silent_top1_peak: float
    late_root_top1: float
    precision: float
    recall: float
    f1: float
    exact_groups: float
    headcount: float
    missing: int
    duplicated: int
    results: list[ScenarioResult] = field(repr=False, default_factory=list)

    def metrics(self) -> dict[str, float]:
        return {
            "top1": self.top1,
            "f1": self.f1,
            "exact_groups": self.exact_groups,
            "headcount": self.headcount,
            "silent_top1": self.silent_top1,
        }

    def shortfalls(self) -> list[str]:
        return [
            f"{name} {value:.3f} < {TARGETS[name]:.2f}"
            for name, value in self.metrics().items()
            if value < TARGETS[name]
        ]

    def failing_faults(self) -> list[FaultOutcome]:
        return [
            f
            for r in self.results
            for f in r.faults
            if not (f.top1 and f.headcount and f.exact_group)
        ]

    def patterns(self) -> Counter[str]:
        """Failing faults by what went wrong (a fault may show several patterns)."""
        found: Counter[str] = Counter()
        for f in self.failing_faults():
            if f.silent and not f.top1:
                if f.named_peak == f.root:
                    found["silent root named while firing, lost in the final record"] += 1
                else:
                    found["silent root never named"] += 1
            elif not f.top1:
                found["alerting root not named"] += 1
            if f.share < 1.0:
                found["fault split over several incidents"] += 1
            if f.foreign:
                found["unrelated alerts (other fault or noise) merged in"] += 1
            if f.top1 and not f.headcount:
                found["right root, wrong head count"] += 1
        return found

    def table_row(self) -> str:
        return (
            f"{self.label:<28} {self.scenarios:>5} {self.faults:>6} {self.top1:>6.3f} "
            f"{self.silent_top1:>7.3f} ({self.silent_faults:>3}) {self.precision:>6.3f} "
            f"{self.recall:>6.3f} {self.f1:>6.3f} {self.exact_groups:>6.3f} {self.headcount:>6.3f}"
        )


TABLE_HEADER = (
    f"{'topology':<28} {'scen':>5} {'faults':>6} {'top1':>6} {'silent(n)':>13} "
    f"{'prec':>6} {'recall':>6} {'F1':>6} {'exact':>6} {'heads':>6}"
)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def summarise(label: str, results: Sequence[ScenarioResult]) -> Summary:
    faults = [f for r in results for f in r.faults]
    silent = [f for f in faults if f.silent]
    late = [f for f in faults if f.late_root]
    tp = sum(r.correct_pairs for r in results)
    pp = sum(r.predicted_pairs for r in results)
    tpairs = sum(r.true_pairs for r in results)
    precision = _ratio(tp, pp)
    recall = _ratio(tp, tpairs)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Summary(
        label=label,
        scenarios=len(results),
        faults=len(faults),
        silent_faults=len(silent),
        late_root_faults=len(late),
        multi_fault_scenarios=sum(1 for r in results if len(r.faults) > 1),
        alerts=sum(len(r.scenario.nodes) for r in results),
        noise_alerts=sum(len(r.scenario.noise) for r in results),
        top1=_ratio(sum(f.top1 for f in faults), len(faults)),
        silent_top1=_ratio(sum(f.top1 for f in silent), len(silent)),
        silent_top1_peak=_ratio(sum(f.named_peak == f.root for f in silent), len(silent)),
        late_root_top1=_ratio(sum(f.top1 for f in late), len(late)),
        precision=precision,
        recall=recall,
        f1=f1,
        exact_groups=_ratio(sum(r.exact_groups for r in results), sum(r.groups for r in results)),
        headcount=_ratio(sum(f.headcount for f in faults), len(faults)),
        missing=sum(len(r.missing) for r in results),
        duplicated=sum(len(r.duplicated) for r in results),
        results=list(results),
    )


def evaluate(topology: Topology, label: str, scenarios: Iterable[Scenario]) -> Summary:
    return summarise(label, [score(topology, s) for s in scenarios])


def _short(nodes: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(nodes[:limit])
    return f"[{shown}, ... {len(nodes)} in all]" if len(nodes) > limit else f"[{shown}]"


def describe_failure(topology: Topology, result: ScenarioResult) -> str:
    """A few lines a person can read: truth vs what the engine published."""
    sc = result.scenario
    lines = [f"scenario {sc.name}: {len(sc.faults)} fault(s), {len(sc.noise)} noise alert(s)"]
    for fault, outcome in zip(sc.faults, result.faults, strict=True):
        alerting = sorted({sc.nodes[fp] for fp in fault.fingerprints})
        lines.append(
            f"  fault root={fault.root}{' (silent)' if fault.silent else ''}"
            f"{' (late root)' if fault.late_root else ''} alerting={_short(alerting)} "
            f"users={fault.users} -> named={outcome.named} users={outcome.users_got} "
            f"share={outcome.share:.2f} exact={outcome.exact_group} "
            f"(named while firing: {outcome.named_peak})"
        )
    if sc.noise:
        lines.append(f"  noise on {_short(sorted(sc.nodes[fp] for fp in sc.noise))}")
    for inc_id, record in sorted(result.incidents.items()):
        nodes = sorted({a.node or "?" for a in record.alerts})
        root = record.root_cause.node if record.root_cause else None
        users = record.affected.users
        lines.append(f"  {inc_id}: root={root} users={users} alerts on {_short(nodes)}")
    return "\n".join(lines)
