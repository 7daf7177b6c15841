"""Root-cause confidence calibration: fit, check, and draw the reliability diagram.

    python bench/calibration.py            # check the shipped table on held-out shapes and seeds
    python bench/calibration.py --fit      # refit correlator/rules/calibration.json first
    python bench/calibration.py --plot docs/calibration.png

Every scenario is replayed through the engine and the evidence features of each incident's top
candidate are captured (the engine's `rootcause.rank` is wrapped). One sample per true fault:
the features of the incident holding most of its alerts, *right* when that incident names the
fault's true root (the quality suite's top-1; noise alerts, alone in their incidents and trivially
right, are left out so they do not flatter the figures). The fit (a logistic model over the
features, then isotonic regression of the observed rate on the model's score) uses the tuning
topologies and seeds only;
the reliability table and the expected calibration error (ECE, 10 equal-width bins) are reported
per shape on other topologies and seeds. Needs numpy (and matplotlib for --plot): dev/bench only;
the engine reads the fitted JSON table with the standard library.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from correlator.core.engine import Correlator  # noqa: E402
from correlator.core.settings import EngineSettings  # noqa: E402
from correlator.replay import replay_updates  # noqa: E402
from correlator.rules import calibration, rootcause  # noqa: E402
from correlator.rules.calibration import Calibration, Features  # noqa: E402
from correlator.wire.render.record import build_record  # noqa: E402
from tests.scenarios.batches import (  # noqa: E402
    HELD_OUT_FIRST_SEED,
    HELD_OUT_TOPOLOGY_SEED,
    SHAPES,
    TUNING_TOPOLOGY_SEED,
)
from tests.scenarios.generator import EXAMPLE_PROFILE, Scenario, ScenarioGenerator  # noqa: E402
from tests.scenarios.scoring import final  # noqa: E402
from topology import Topology, load_example  # noqa: E402

TABLE = ROOT / "correlator" / "rules" / calibration.TABLE
DOC = ROOT / "docs" / "quality.md"
HEADING = "## Confidence calibration"
DOC_INTRO = """\
`root_cause.confidence` is the probability that the named root is right, as measured: the
ranking describes its top candidate by evidence features (is it silent; how much of what its
failure would break is alerting; how many monitored components it would break that stay
healthy; what share of the incident it explains; how many alerting components nothing explains;
its margin over the runner-up; how far apart the alerts started; is it alone), a logistic model
turns them into a score, and an isotonic (monotone) table maps the score to the observed rate of
being right. Both are fitted with `python bench/calibration.py --fit` on the tuning topologies
(seed 1 of each estate shape, scenario seeds below 1000) and shipped as
`correlator/rules/calibration.json`; the engine applies them with the standard library, so the
same evidence always gives the same number. The other candidates share what the top one leaves,
so all confidences of a record sum to at most 1.

Words a desk can say (`confidence_label`, on the root cause and each candidate):

| label | confidence | meaning |
|---|---|---|
| `likely` | >= 0.8 | right at least 4 times in 5 |
| `probable` | >= 0.5 | more often right than not |
| `possible` | < 0.5 | a lead, not an answer |

Checked on held-out topologies and seeds (one sample per true fault: the incident holding most
of its alerts, right when it names the fault's root; noise alerts are left out so they do not
flatter the figures). Expected calibration error (ECE) over 10 equal-width bins. Most faults
in these scenarios are clear-cut and stated at 0.9-1.0; the lower bins hold few faults, so
their rates are coarse.

![Reliability diagram](calibration.png)
"""
BINS = 10


@dataclass(frozen=True, slots=True)
class Sample:
    shape: str
    features: Features
    right: bool


@dataclass(frozen=True, slots=True)
class Suite:
    shape: str
    topology: Callable[[], Topology]
    generator: Callable[[], ScenarioGenerator]
    first: int
    count: int


def suites(held_out: bool, scale: float = 1.0) -> list[Suite]:
    """Fit on the tuning topology of each shape; check on another topology and other seeds (and
    on the example organisation, which the fit never sees)."""
    tseed = HELD_OUT_TOPOLOGY_SEED if held_out else TUNING_TOPOLOGY_SEED
    first = HELD_OUT_FIRST_SEED if held_out else 0
    out = []
    fit_counts = (("enterprise", 400), ("retail", 300), ("layered", 40))
    check_counts = (("enterprise", 200), ("retail", 200), ("layered", 40))
    for name, count in check_counts if held_out else fit_counts:
        shape = SHAPES[name]
        out.append(
            Suite(
                name,
                lambda shape=shape: shape.topology(tseed),
                lambda shape=shape: shape.generator(tseed),
                first,
                max(1, int(count * scale)),
            )
        )
    if held_out:
        example = load_example()
        out.append(
            Suite(
                "example",
                lambda: example,
                lambda: ScenarioGenerator(example, EXAMPLE_PROFILE, "example"),
                first,
                max(1, int(200 * scale)),
            )
        )
    return out


def collect(suite: Suite) -> list[Sample]:
    topo = suite.topology()
    gen = suite.generator()
    samples: list[Sample] = []
    for seed in range(suite.first, suite.first + suite.count):
        samples += _samples(topo, gen.scenario(seed), suite.shape)
    return samples


def _samples(topo: Topology, scenario: Scenario, shape: str) -> list[Sample]:
    captured: dict[str, Features] = {}
    original = rootcause.rank

    def spy(*args: Any, **kwargs: Any) -> rootcause.Ranking:
        # The engine hands `rank` its members lazily; read them once here and pass them on.
        alerts = list(args[2])
        ranking = original(*args[:2], alerts, *args[3:], **kwargs)
        owner = next((a.incident_id for a in alerts if a.incident_id), None)
        if owner is not None and ranking.features is not None:
            captured[owner] = ranking.features
        return ranking

    rootcause.rank = spy  # type: ignore[assignment]
    try:
        engine = Correlator(topo, EngineSettings(), render=build_record)
        records = [u.record for u in replay_updates(engine, scenario.lines)]
    finally:
        rootcause.rank = original  # type: ignore[assignment]
    incidents = final(records)
    owner: dict[str, str] = {}
    for inc_id, record in sorted(incidents.items()):
        for alert in record.alerts:
            owner.setdefault(alert.fingerprint, inc_id)
    out = []
    for fault in scenario.faults:
        votes = Counter(owner[fp] for fp in fault.fingerprints if fp in owner)
        if not votes:
            continue
        inc_id = min(votes, key=lambda i: (-votes[i], i))
        record = incidents[inc_id]
        if inc_id not in captured or record.root_cause is None:
            continue
        out.append(Sample(shape, captured[inc_id], record.root_cause.node == fault.root))
    return out


# -- fitting ------------------------------------------------------------------------------------


def fit(samples: Sequence[Sample], l2: float = 1e-2) -> Calibration:
    x = np.array([s.features.vector() for s in samples], dtype=float)
    y = np.array([1.0 if s.right else 0.0 for s in samples])
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    for _ in range(50):  # Newton-Raphson on the L2-regularised log loss
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + l2 * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    scores = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
    xs, ys = _isotonic(scores.tolist(), y.tolist())
    return Calibration(
        weights=tuple(round(float(v), 6) for v in w[:-1]),
        bias=round(float(w[-1]), 6),
        xs=tuple(round(v, 6) for v in xs),
        ys=tuple(round(v, 4) for v in ys),
    )


def _isotonic(scores: list[float], right: list[float]) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators: a non-decreasing rate as a function of the score; one point per
    pooled block (its mean score and rate)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    blocks: list[list[float]] = []  # [sum score, sum right, count]
    for i in order:
        blocks.append([scores[i], right[i], 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            last = blocks.pop()
            for k in range(3):
                blocks[-1][k] += last[k]
    # Laplace-smoothed rates: a block of three wrong answers says "unlikely", not "0 %".
    return [b[0] / b[2] for b in blocks], [(b[1] + 0.5) / (b[2] + 1.0) for b in blocks]


# -- reporting ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reliability:
    shape: str
    rows: list[tuple[float, float, int, float, float]]
    """(bin low, bin high, count, mean confidence, share right)"""
    ece: float
    top1: float
    count: int


def reliability(shape: str, pairs: Iterable[tuple[float, bool]]) -> Reliability:
    pairs = list(pairs)
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(BINS)]
    for conf, right in pairs:
        bins[min(BINS - 1, int(conf * BINS))].append((conf, right))
    rows = []
    ece = 0.0
    for k, members in enumerate(bins):
        if not members:
            continue
        conf = sum(c for c, _ in members) / len(members)
        acc = sum(1 for _, r in members if r) / len(members)
        rows.append((k / BINS, (k + 1) / BINS, len(members), conf, acc))
        ece += len(members) / len(pairs) * abs(conf - acc)
    top1 = sum(1 for _, r in pairs if r) / len(pairs) if pairs else 0.0
    return Reliability(shape, rows, ece, top1, len(pairs))


def table(rel: Reliability) -> str:
    lines = [
        f"{rel.shape}: {rel.count} faults, right {rel.top1:.3f}, ECE {rel.ece:.3f}",
        "| stated confidence | faults | mean stated | actually right |",
        "|---|---:|---:|---:|",
    ]
    for low, high, count, conf, acc in rel.rows:
        lines.append(f"| {low:.1f}-{high:.1f} | {count} | {conf:.3f} | {acc:.1%} |")
    return "\n".join(lines)


def plot(results: Sequence[Reliability], path: Path) -> None:
    # Imported here: matplotlib is needed for the diagram only, not for fitting or checking.
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    for rel in results:
        xs = [r[3] for r in rel.rows]
        ys = [r[4] for r in rel.rows]
        sizes = [20 + 200 * r[2] / rel.count for r in rel.rows]
        ax.plot(xs, ys, "-", linewidth=1)
        ax.scatter(xs, ys, s=sizes, label=f"{rel.shape} (ECE {rel.ece:.3f}, n={rel.count})")
    ax.set_xlabel("stated root-cause confidence")
    overall = results[-1]
    for _, _, count, conf, acc in overall.rows:
        ax.annotate(
            f"n={count}", (conf, acc), textcoords="offset points", xytext=(6, -12), fontsize=7
        )
    ax.set_ylabel("share of faults whose incident names the true root")
    ax.set_title("Root-cause confidence on held-out shapes and seeds")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_doc(results: Sequence[Reliability]) -> None:
    """Replace the calibration section of docs/quality.md (from its heading to the end)."""
    old = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    at = old.find(HEADING)
    head = old[:at] if at >= 0 else old + "\n"
    summary = ["| estate | faults | right | ECE |", "|---|---:|---:|---:|"]
    summary += [f"| {r.shape} | {r.count} | {r.top1:.3f} | {r.ece:.3f} |" for r in results]
    body = [HEADING, "", DOC_INTRO, *summary, "", table(results[-1]), ""]
    DOC.write_text(head + "\n".join(body), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")


def run_calibration(
    refit: bool = False, plot_to: Path | None = None, scale: float = 1.0
) -> list[Reliability]:
    """Optionally refit the shipped table on the tuning suites, then print the reliability
    table and ECE per held-out shape (and overall) for the shipped table."""
    if refit:
        samples = [s for suite in suites(False, scale) for s in collect(suite)]
        fitted = fit(samples)
        TABLE.write_bytes(orjson.dumps(fitted.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
        calibration.shipped.cache_clear()
        print(f"fitted on {len(samples)} faults; wrote {TABLE.relative_to(ROOT)}")
    shipped = calibration.shipped()
    results: list[Reliability] = []
    every: list[tuple[float, bool]] = []
    for suite in suites(True, scale):
        pairs = [(round(shipped.confidence(s.features), 3), s.right) for s in collect(suite)]
        every += pairs
        results.append(reliability(suite.shape, pairs))
        print(table(results[-1]), end="\n\n")
    overall = reliability("all held-out", every)
    print(table(overall))
    if plot_to is not None:
        plot([*results, overall], plot_to)
        print(f"wrote {plot_to}")
    return [*results, overall]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fit", action="store_true", help="refit the shipped table first")
    parser.add_argument("--plot", type=Path, help="draw the reliability diagram to this file")
    parser.add_argument("--scale", type=float, default=1.0, help="scale the scenario counts")
    parser.add_argument(
        "--write-doc", action="store_true", help="rewrite the calibration section of the docs"
    )
    args = parser.parse_args(argv)
    results = run_calibration(args.fit, args.plot, args.scale)
    if args.write_doc:
        write_doc(results)
    return 0 if results[-1].ece <= 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
