"""The verdict `rootcause.rank` hands back: the ranking, and the candidates it names (built
without re-validation: they are valid by construction, and a storm ranks on every update)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from correlator.core.model import Candidate, RootCause
from correlator.rules import calibration
from correlator.rules.calibration import Features
from correlator.rules.evidence import Evidence
from topology import Topology


@dataclass(frozen=True, slots=True)
class Ranking:
    root: RootCause | None
    candidates: list[Candidate]
    root_nodes: tuple[str, ...]
    """The nodes whose failure the impact is computed from."""
    features: Features | None = None
    """The evidence behind the top candidate (None when unmapped)."""


def _minutes(evidence: Evidence) -> float:
    return min(30.0, evidence.onset_spread.total_seconds() / 60)


def _finish(
    ranked: list[Candidate],
    weights: list[float],
    root_nodes: tuple[str, ...],
    features: Features,
) -> Ranking:
    """Calibrated confidence for the top candidate; the others share the rest by `weights`."""
    top = round(calibration.shipped().confidence(features), 3)
    rest = calibration.share_out(top, weights)
    ranked = [
        ranked[0].model_copy(
            update={"confidence": top, "confidence_label": calibration.label_of(top)}
        )
    ] + [
        c.model_copy(update={"confidence": w, "confidence_label": calibration.label_of(w)})
        for c, w in zip(ranked[1:], rest, strict=True)
    ]
    return Ranking(
        root=_promote(ranked[0], ranked[1:]),
        candidates=ranked[1:],
        root_nodes=root_nodes,
        features=features,
    )


def _symptom(graph: Topology, node: str) -> Candidate:
    return _candidate(
        graph,
        node,
        0.05,
        f"{graph.nodes[node].name} is alerting, but a failure below it explains that.",
    )


def _names(graph: Topology, nodes: Sequence[str], limit: int = 3) -> str:
    names = [graph.nodes[n].name for n in nodes[:limit]]  # a storm's list can be long
    if len(nodes) > limit:
        return ", ".join(names) + f" and {len(nodes) - limit} more"
    return " and ".join(names) if len(names) == 2 else ", ".join(names)


def _candidate(
    graph: Topology, node: str, confidence: float, reason: str, *, silent: bool = False
) -> Candidate:
    info = graph.nodes[node]
    # Valid by construction (a clamped confidence, strings from the topology): validating
    # each of a storm's candidates on every update cost more than ranking them.
    return Candidate.model_construct(
        node=node,
        name=info.name,
        kind=info.kind,
        confidence=round(min(1.0, max(0.0, confidence)), 3),
        reason=reason,
        silent=silent,
        alerting=not silent,
    )


def _promote(candidate: Candidate, others: list[Candidate]) -> RootCause:
    return RootCause.model_construct(
        node=candidate.node,
        name=candidate.name,
        kind=candidate.kind,
        confidence=candidate.confidence,
        reason=candidate.reason,
        silent=candidate.silent,
        alerting=candidate.alerting,
        confidence_label=candidate.confidence_label,
        candidates=others,
    )
