"""Root cause: rank the nodes of an incident by how well their failure explains the rest.

* An alerting node that nothing else alerting explains (its own dependencies are healthy) and
  whose failure explains the most other alerting nodes comes first. Arrival order plays no part,
  so a cause whose alert arrives after its symptoms' still wins.
* When several alerting nodes are unexplained and a node that raised no alert would explain all
  of them, that *silent* node is named, if the evidence makes it credible
  (`correlator.rules.evidence`: enough of what it would break is alerting, and started at about
  the same time).

`confidence` is calibrated (`correlator.rules.calibration`): the ranking describes its top
candidate by evidence features and a fitted table turns them into the probability of being right.
The other candidates share what is left, so all confidences together are at most 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import log1p

from correlator.core.model import SEVERITIES, Candidate, RootCause
from correlator.core.state import AlertState
from correlator.rules.calibration import Features
from correlator.rules.evidence import ONSET_WINDOW, Evidence, onset_spread
from correlator.rules.structure import CauseIndex, Structure
from correlator.rules.verdict import (
    Ranking,
    _candidate,
    _finish,
    _minutes,
    _names,
    _symptom,
)
from correlator.rules.wording import all_unexplained_depend, depend, only_others, others_are, out_of
from topology import Topology

__all__ = ["CauseIndex", "Ranking", "Structure", "rank", "rank_unmapped"]

MAX_CANDIDATES = 5
_CRITICALITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True, slots=True)
class _Memo:
    """What the last `rank` of one incident read, and what it said (kept on its `Structure`)."""

    key: tuple[object, ...]
    ranking: Ranking


def _single_root(
    graph: Topology,
    index: CauseIndex,
    best: str,
    explains: Sequence[str],
    members: Sequence[str],
    *,
    spread: timedelta,
) -> Ranking:
    """The ranking when exactly one alerting member is unexplained (the common case)."""
    others = len(members) - 1
    share = len(explains) / others if others else 1.0
    evidence = _alerting_evidence(index, best, len(explains), spread)
    if others:
        reason = (
            f"{graph.nodes[best].name} is alerting while its own dependencies are healthy, "
            f"and its failure explains {out_of(len(explains), others)} ({_names(graph, explains)})."
        )
    else:
        reason = (
            f"{graph.nodes[best].name} is the only alerting component and none of its "
            "dependencies is alerting."
        )
    features = Features(
        silent=0.0,
        coverage=evidence.coverage,
        healthy=log1p(evidence.healthy),
        explained=share,
        unexplained=0.0,
        margin=share,
        spread=_minutes(evidence),
        alone=1.0 if not others else 0.0,
    )
    ranked = [_candidate(graph, best, 0.0, reason)]
    for node in members:
        if len(ranked) > MAX_CANDIDATES:
            break
        if node != best:
            ranked.append(_symptom(graph, node))
    return _finish(ranked, [0.05] * (len(ranked) - 1), (best,), features)


def _evidence(
    index: CauseIndex,
    cause: str,
    alerting: Sequence[str],
    onsets: Mapping[str, datetime],
) -> Evidence:
    """Evidence for a quiet `cause` from the incident's `alerting` nodes below it. Only alerts
    that started within `ONSET_WINDOW` of their median onset count: one stray alert that started
    long before must neither discredit a pattern nor join it."""
    times = sorted(onsets[n] for n in alerting if n in onsets)
    if not times:
        return Evidence(index.blast(cause), len(alerting))
    middle = times[len(times) // 2]
    timely = [t for t in times if abs(t - middle) <= ONSET_WINDOW]
    count = len(timely) + len(alerting) - len(times)
    return Evidence(index.blast(cause), count, onset_spread(timely))


def _alerting_evidence(index: CauseIndex, cause: str, explains: int, spread: timedelta) -> Evidence:
    """Evidence for an alerting `cause`; the timing is the incident's (kept as members join):
    this runs on every update of a storm, so it must not walk the members."""
    return Evidence(index.blast(cause), explains, spread)


def _specific_first(index: CauseIndex, pool: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Among quiet causes covering equally many alerting members, one that lies below another
    (a database below its host) is the more specific explanation and comes first. Blast radii
    are counted within `max_hops`, so the one further up can look smaller."""
    pool = list(pool)
    for i in range(min(len(pool), 8)):
        count = pool[i][1]
        for j in range(i + 1, len(pool)):
            if pool[j][1] != count:
                break
            if pool[i][0] in index.causes(pool[j][0]):
                pool[i], pool[j] = pool[j], pool[i]
    return pool


def _leading(pool: tuple[tuple[str, int], ...], wanted: int = 8) -> list[tuple[str, int]]:
    """The part of the quiet-cause pool that ranking can reach: `rank` weighs the first `wanted`
    in order, and `_specific_first` may swap in one that ties with them on count, so whatever
    covers fewer members than the `wanted`-th best is never read (and needs no blast radius)."""
    if len(pool) <= wanted:
        return list(pool)
    threshold = sorted((count for _, count in pool), reverse=True)[wanted - 1]
    return [item for item in pool if item[1] >= threshold]


def _severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def rank_unmapped(alerts: Iterable[AlertState], key: str | None) -> Ranking:
    names = sorted({a.name for a in alerts})
    label = key or (names[0] if names else "unknown")
    root = RootCause(
        node=None,
        name=", ".join(names[:3]) or label,
        kind="unmapped",
        confidence=0.3,
        reason=f"No topology node matches these alerts; they are grouped by {label}.",
    )
    return Ranking(root=root, candidates=[], root_nodes=())


def rank(
    graph: Topology,
    index: CauseIndex,
    alerts: Iterable[AlertState],
    unmapped_key: str | None,
    structure: Structure | None = None,
) -> Ranking:
    """Rank the incident whose alerts are `alerts`. `structure`, when given, must already hold
    every mapped node of `alerts` (the engine keeps it as nodes join); else it is built here."""
    alerts = list(alerts)
    if structure is None:
        structure = Structure()
        for alert in alerts:
            if alert.node is not None:
                structure.add(alert.node, index)
    if not structure.members:
        return rank_unmapped(alerts, unmapped_key)
    # Most updates of an incident change nothing the ranking reads (an alert on an explained
    # node, a resolution, a re-send): the verdict is a function of the structure, of the
    # unexplained nodes' alerts (start, severity), and of which quiet causes are firing, so
    # when those are as last time the last verdict is returned as it stands.
    firing = index.firing_nodes
    eligible = (
        ()
        if len(structure.roots) == 1
        else tuple(
            (cause, count)
            for cause, count in structure.below_unexplained.items()
            if count > 1 and cause not in firing
        )
    )
    key: tuple[object, ...] = (
        graph,
        index,
        structure.version,
        tuple((a.node, a.starts_at, a.severity) for a in alerts),
        eligible,
    )
    memo = structure.last_ranking
    if isinstance(memo, _Memo) and memo.key == key:
        return memo.ranking
    ranking = _rank(graph, index, alerts, structure, eligible)
    structure.last_ranking = _Memo(key, ranking)
    return ranking


def _rank(
    graph: Topology,
    index: CauseIndex,
    alerts: list[AlertState],
    structure: Structure,
    eligible: tuple[tuple[str, int], ...],
) -> Ranking:
    members = structure.sorted_members
    explains = structure.explains
    explained = structure.explained
    unexplained = structure.unexplained
    # Onsets from the alerts themselves (never from arrival): a restored engine ranks alike.
    onsets: dict[str, datetime] = {}
    for alert in alerts:
        node = alert.node
        if node is not None:
            known = onsets.get(node)
            if known is None or alert.starts_at < known:
                onsets[node] = alert.starts_at
    spread = onset_spread(list(onsets.values())) if onsets else timedelta(0)
    if len(unexplained) == 1:
        return _single_root(
            graph, index, unexplained[0], explains[unexplained[0]], members, spread=spread
        )
    severity: dict[str, int] = {}
    first: dict[str, datetime] = {}
    wanted = set(unexplained)
    for alert in alerts:
        node = alert.node
        if node not in wanted:
            continue
        sev = _severity_rank(alert.severity)
        if sev < severity.get(node, len(SEVERITIES) + 1):
            severity[node] = sev
        if node not in first or alert.starts_at < first[node]:
            first[node] = alert.starts_at
    others = len(members) - 1

    def strength(node: str) -> tuple[int, int, int, datetime, str]:
        crit = _CRITICALITY_RANK.get(graph.nodes[node].criticality, 2)
        return (-len(explains[node]), severity[node], crit, first[node], node)

    unexplained.sort(key=strength)
    pool = sorted(_leading(eligible), key=lambda item: (-item[1], index.blast(item[0]), item[0]))
    pool = _specific_first(index, pool)
    silent_ranked: list[tuple[str, list[str], Evidence]] = []
    rejected: tuple[str, Evidence] | None = None
    for cause, _ in pool[:8]:
        under = structure.below[cause]
        evidence = _evidence(index, cause, under, onsets)
        if index.credible(evidence):
            silent_ranked.append((cause, [m for m in under if m not in explained], evidence))
            if len(silent_ranked) == 2:
                break
        elif rejected is None:
            rejected = (cause, evidence)

    ranked: list[Candidate] = []
    weights: list[float] = []
    root_nodes: tuple[str, ...]
    best = unexplained[0]
    runner_up = len(explains[unexplained[1]])
    if silent_ranked and len(silent_ranked[0][1]) == len(unexplained):
        cause, covered, evidence = silent_ranked[0]
        reach = len(structure.below[cause])
        competitor = max(
            1 + len(explains[best]), len(silent_ranked[1][1]) if len(silent_ranked) > 1 else 0
        )
        reason = (
            f"{graph.nodes[cause].name} raised no alert, but "
            f"{all_unexplained_depend(len(covered))} on it ({_names(graph, covered)}); "
            f"{evidence.describe()}."
        )
        features = Features(
            silent=1.0,
            coverage=evidence.coverage,
            healthy=log1p(evidence.healthy),
            explained=reach / len(members),
            unexplained=0.0,
            margin=(reach - competitor) / len(members),
            spread=_minutes(evidence),
            alone=0.0,
        )
        ranked.append(_candidate(graph, cause, 0.0, reason, silent=True))
        root_nodes = (cause,)
    else:
        silent_reach = len(structure.below[silent_ranked[0][0]]) if silent_ranked else 0
        if silent_reach > 1 + len(explains[best]):
            # Part of the incident hangs below a quiet component and explains more alerts than
            # any alerting candidate; the rest are separate unexplained failures grouped in.
            cause, covered, evidence = silent_ranked[0]
            rest = sorted(n for n in unexplained if n not in covered)
            reason = (
                f"{graph.nodes[cause].name} raised no alert, but {silent_reach} alerting "
                f"components depend on it ({_names(graph, covered)}), more than any alerting "
                f"component explains ({evidence.describe()}); {others_are(len(rest))} unexplained "
                f"({_names(graph, rest)})."
            )
            features = Features(
                silent=1.0,
                coverage=evidence.coverage,
                healthy=log1p(evidence.healthy),
                explained=silent_reach / len(members),
                unexplained=log1p(len(rest)),
                margin=(silent_reach - 1 - len(explains[best])) / len(members),
                spread=_minutes(evidence),
                alone=0.0,
            )
            ranked.append(_candidate(graph, cause, 0.0, reason, silent=True))
            root_nodes = (cause, *rest)
        else:
            share = len(explains[best]) / others if others else 0.0
            reason = (
                f"{graph.nodes[best].name} is alerting with healthy dependencies and explains "
                f"{out_of(len(explains[best]), others)}, but "
                f"{others_are(len(unexplained) - 1)} unexplained "
                f"({_names(graph, unexplained[1:])})."
            )
            if rejected is not None:
                cause, evidence = rejected
                reason += (
                    f" They share {graph.nodes[cause].name}, which raised no alert, but "
                    f"{evidence.describe()}: not a credible common cause."
                )
            evidence = _alerting_evidence(index, best, len(explains[best]), spread)
            features = Features(
                silent=0.0,
                coverage=evidence.coverage,
                healthy=log1p(evidence.healthy),
                explained=share,
                unexplained=log1p(len(unexplained) - 1),
                margin=(len(explains[best]) - runner_up) / others if others else 0.0,
                spread=_minutes(evidence),
                alone=0.0,
            )
            ranked.append(_candidate(graph, best, 0.0, reason))
            root_nodes = (best, *sorted(n for n in unexplained if n != best))

    # Candidates past the first MAX_CANDIDATES + 1 are cut below: none is built (a storm can
    # leave hundreds of members unexplained).
    full = MAX_CANDIDATES + 1
    for node in unexplained:
        if len(ranked) >= full:
            break
        if node == ranked[0].node:
            continue
        share = len(explains[node]) / others if others else 0.0
        weights.append(0.2 + 0.2 * share)
        ranked.append(
            _candidate(
                graph,
                node,
                0.0,
                f"{graph.nodes[node].name} is alerting and none of its dependencies is, but it "
                f"explains {only_others(len(explains[node]))}.",
            )
        )
    for cause, covered, evidence in silent_ranked[:2]:
        if len(ranked) >= full:
            break
        if cause == ranked[0].node:
            continue
        weights.append(0.15 + 0.05 * len(covered))
        ranked.append(
            _candidate(
                graph,
                cause,
                0.0,
                f"{graph.nodes[cause].name} raised no alert but {depend(len(covered))} on it; "
                f"{evidence.describe()}.",
                silent=True,
            )
        )
    for node in members:
        if len(ranked) >= full:
            break
        if node in explained:
            weights.append(0.05)
            ranked.append(_symptom(graph, node))
    ranked = ranked[:full]
    return _finish(ranked, weights[: len(ranked) - 1], root_nodes, features)
