"""Calibrated root-cause confidence: evidence features -> a probability that means what it says.

`rootcause` describes its top candidate by a few evidence features (`Features`). A logistic
model turns them into a score, and a monotone (isotonic) table maps the score to the observed
rate of being right. Both are fitted offline on generated fault scenarios (`bench/calibration.py`,
which needs numpy; this module needs nothing but the standard library) and shipped as
`calibration.json` next to this file, so the same evidence always gives the same number.

Words a desk can say, from `confidence` (documented in docs/quality.md):

* `likely`   >= 0.8: right about 4 times in 5 or more;
* `probable` >= 0.5: more often right than not;
* `possible` below.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from typing import Literal

import orjson

Label = Literal["likely", "probable", "possible"]
LIKELY = 0.8
PROBABLE = 0.5
TABLE = "calibration.json"


def label_of(confidence: float) -> Label:
    if confidence >= LIKELY:
        return "likely"
    if confidence >= PROBABLE:
        return "probable"
    return "possible"


@dataclass(frozen=True, slots=True)
class Features:
    """The evidence behind a top candidate, each a number the model weighs."""

    silent: float
    """1 when the candidate raised no alert"""
    coverage: float
    """share of the monitored components its failure would break that are alerting"""
    healthy: float
    """log(1 + monitored components it would break that stay healthy)"""
    explained: float
    """share of the incident's other alerting components it explains"""
    unexplained: float
    """log(1 + alerting components of the incident that neither it nor anything else explains)"""
    margin: float
    """how much more it explains than the runner-up, as a share of the incident"""
    spread: float
    """minutes between the first and last onset of the alerts it explains (capped at 30)"""
    alone: float
    """1 when it is the incident's only alerting component"""

    def vector(self) -> tuple[float, ...]:
        # Spelled out: dataclasses.astuple deep-copies and costs more than the model itself.
        return (
            self.silent,
            self.coverage,
            self.healthy,
            self.explained,
            self.unexplained,
            self.margin,
            self.spread,
            self.alone,
        )


FEATURE_NAMES = tuple(f.name for f in fields(Features))


@dataclass(frozen=True, slots=True)
class Calibration:
    weights: tuple[float, ...]
    bias: float
    xs: tuple[float, ...]
    """isotonic table: logistic score thresholds (ascending) ..."""
    ys: tuple[float, ...]
    """... and the observed rate of being right at each"""

    def score(self, features: Features) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, features.vector(), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def confidence(self, features: Features) -> float:
        return self.map(self.score(features))

    def map(self, score: float) -> float:
        """Piecewise-linear interpolation of the isotonic table; flat beyond its ends."""
        xs, ys = self.xs, self.ys
        if not xs:
            return score
        if score <= xs[0]:
            return ys[0]
        if score >= xs[-1]:
            return ys[-1]
        i = bisect_right(xs, score)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (score - x0) / (x1 - x0)

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(FEATURE_NAMES),
            "weights": list(self.weights),
            "bias": self.bias,
            "isotonic": {"score": list(self.xs), "rate": list(self.ys)},
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Calibration:
        names = data.get("features")
        if names != list(FEATURE_NAMES):
            raise ValueError(f"calibration table is for features {names}, not {FEATURE_NAMES}")
        iso = data["isotonic"]
        assert isinstance(iso, dict)
        weights = data["weights"]
        bias = data["bias"]
        assert isinstance(weights, list) and isinstance(bias, int | float)
        return cls(
            weights=tuple(float(w) for w in weights),
            bias=float(bias),
            xs=tuple(float(x) for x in iso["score"]),
            ys=tuple(float(y) for y in iso["rate"]),
        )


#: Used until a table is fitted: a hand-set logistic (right roots explain all, alert, and are
#: alone in doing so), with no isotonic correction.
UNFITTED = Calibration(weights=(-1.5, 2.0, -0.5, 2.0, -1.0, 1.0, -0.1, 0.5), bias=0.5, xs=(), ys=())


@cache
def shipped() -> Calibration:
    """The table in the package; the unfitted default when there is none."""
    try:
        raw = resources.files("correlator.rules").joinpath(TABLE).read_bytes()
    except FileNotFoundError:
        return UNFITTED
    return Calibration.from_json(orjson.loads(raw))


def share_out(top: float, others: list[float]) -> list[float]:
    """Split what the top candidate leaves (1 - top) over the others in proportion to their
    weights, rounded down so that all confidences together never exceed 1."""
    rest = max(0.0, 1.0 - top)
    total = sum(others)
    if total <= 0.0:
        return [0.0 for _ in others]
    return [math.floor(rest * w / total * 1000) / 1000 for w in others]
