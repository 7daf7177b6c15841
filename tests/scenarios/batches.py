"""The fixed, seeded batches the quality suite and `python -m tests.scenarios.report` run."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from topology import Topology

from .generator import EXAMPLE_PROFILE, LARGE_PROFILE, Profile, ScenarioGenerator, Topologies
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
