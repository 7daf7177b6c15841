"""The fixed, seeded batches the quality suite and `python -m tests.scenarios.report` run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from tests.support.topology_generator import generate_topology
from topology import Topology, load_document
from topology.schema import TopologyDocument

from .estates import enterprise_topology, retail_topology
from .generator import (
    EXAMPLE_PROFILE,
    LARGE_PROFILE,
    SHARED_PROFILE,
    Profile,
    ScenarioGenerator,
    Topologies,
)
from .scoring import Summary, evaluate

FIRST_SEED = 0
LARGE_SERVICES = 1000
LARGE_TOPOLOGY_SEED = 7


@dataclass(frozen=True, slots=True)
class Batch:
    label: str
    count: int
    profile: Profile

    def topology(self) -> Topology:
        return _topologies().example if self.label == "example" else _topologies().large

    def describe(self) -> str:
        if self.label == "example":
            return "example organisation (topology.load_example())"
        topo = self.topology()
        return f"generate_topology({LARGE_SERVICES}, seed={LARGE_TOPOLOGY_SEED}): {len(topo)} nodes"


EXAMPLE = Batch("example", 150, EXAMPLE_PROFILE)
LARGE = Batch("large", 30, LARGE_PROFILE)
BATCHES = (EXAMPLE, LARGE)


@cache
def _topologies() -> Topologies:
    return Topologies(large_services=LARGE_SERVICES, large_seed=LARGE_TOPOLOGY_SEED)


def run_batch(batch: Batch, count: int | None = None, first_seed: int = FIRST_SEED) -> Summary:
    topo = batch.topology()
    generator = ScenarioGenerator(topo, batch.profile, batch.label)
    scenarios = generator.batch(batch.count if count is None else count, first_seed)
    return evaluate(topo, batch.label, scenarios)


# -- estates of other shapes: tuned on one topology and seed range, reported on others -----------

#: Topology seed used while developing the rules (scenario seeds 0-99) and fitting the confidence
#: calibration (scenario seeds below 1000).
TUNING_TOPOLOGY_SEED = 1
#: Held out: never looked at while tuning; the figures in docs/quality.md come from these.
HELD_OUT_TOPOLOGY_SEED = 2
HELD_OUT_FIRST_SEED = 1000


@dataclass(frozen=True, slots=True)
class Shape:
    label: str
    build: Callable[[int], TopologyDocument]
    profile: Profile

    @cache  # noqa: B019 - a handful of shapes, each built once per topology seed
    def topology(self, topology_seed: int) -> Topology:
        return load_document(self.build(topology_seed))

    def generator(self, topology_seed: int) -> ScenarioGenerator:
        return ScenarioGenerator(
            self.topology(topology_seed), self.profile, f"{self.label}-{topology_seed}"
        )

    def run(self, topology_seed: int, first_seed: int, count: int) -> Summary:
        scenarios = self.generator(topology_seed).batch(count, first_seed)
        return evaluate(self.topology(topology_seed), f"{self.label}-t{topology_seed}", scenarios)


def _layered(seed: int) -> TopologyDocument:
    return generate_topology(LARGE_SERVICES, seed)


SHAPES: dict[str, Shape] = {
    "enterprise": Shape("enterprise", enterprise_topology, SHARED_PROFILE),
    "retail": Shape("retail", retail_topology, SHARED_PROFILE),
    "layered": Shape("layered", _layered, LARGE_PROFILE),
}
