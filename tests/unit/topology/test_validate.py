"""Invalid topologies are refused with every problem named by file, node and message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from topology import Problem, TopologyError, load_topology


def problems_of(tmp_path: Path, **sections: Any) -> list[str]:
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(sections))
    with pytest.raises(TopologyError) as caught:
        load_topology(path)
    prefix = f"{path}: "
    messages = [str(p) for p in caught.value.problems]
    assert all(m.startswith(prefix) for m in messages)
    return [m.removeprefix(prefix) for m in messages]


def test_unknown_dependency(tmp_path: Path) -> None:
    assert problems_of(tmp_path, nodes=[{"id": "a", "depends_on": ["b"]}]) == [
        "node 'a': depends on unknown node 'b'"
    ]


def test_unknown_group_member(tmp_path: Path) -> None:
    found = problems_of(tmp_path, nodes=[{"id": "a", "depends_on": [{"any_of": ["x"]}]}])
    assert found == ["node 'a': depends on unknown node 'x'"]


def test_unknown_owner_and_site(tmp_path: Path) -> None:
    found = problems_of(tmp_path, nodes=[{"id": "a", "owner": "ghosts", "site": "mars"}])
    assert found == [
        "node 'a': unknown site 'mars'",
        "node 'a': owner 'ghosts' is not a known team",
    ]


def test_duplicate_ids_nodes_and_links_share_a_namespace(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        sites=[{"id": "s"}, {"id": "t"}, {"id": "s"}],
        links=[{"id": "a", "between": ["s", "t"]}],
        nodes=[{"id": "a"}, {"id": "b"}, {"id": "b"}],
    )
    assert "duplicate site id 's' (first defined in" in found[0]
    assert found[1].startswith("node 'b': duplicate id")
    assert found[2].startswith("node 'a': duplicate id")


def test_cycle_names_the_nodes_on_it(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        nodes=[
            {"id": "c", "depends_on": ["a"]},
            {"id": "a", "depends_on": ["b"]},
            {"id": "b", "depends_on": [{"any_of": ["c", "d"]}]},
            {"id": "d"},
            {"id": "above", "depends_on": ["a"]},
            {"id": "self", "depends_on": ["self"]},
        ],
    )
    assert found == [
        "node 'a': dependency cycle: a -> b -> c -> a",
        "node 'self': dependency cycle: self -> self",
    ]


def test_link_between_unknown_sites(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        sites=[{"id": "dallas"}],
        links=[
            {"id": "wan", "between": ["dallas", "atlantis"]},
            {"id": "loop", "between": ["dallas", "dallas"]},
        ],
    )
    assert found == [
        "node 'wan': link between unknown site 'atlantis'",
        "node 'loop': link joins site 'dallas' to itself",
    ]


def test_min_healthy_out_of_range(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        nodes=[
            {"id": "w1"},
            {"id": "w2"},
            {"id": "zero", "depends_on": [{"any_of": ["w1", "w2"], "min_healthy": 0}]},
            {"id": "big", "depends_on": [{"any_of": ["w1", "w2"], "min_healthy": 3}]},
        ],
    )
    assert found == [
        "node 'zero': any_of [w1, w2]: min_healthy 0 must be at least 1",
        "node 'big': any_of [w1, w2]: min_healthy 3 exceeds its group (2)",
    ]


def test_user_in_unknown_group(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        nodes=[{"id": "g", "kind": "user_group"}],
        users=[{"id": "alice", "groups": ["g", "nope"]}],
    )
    assert found == ["user 'alice' is in unknown group 'nope'"]


def test_alias_collisions(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path,
        nodes=[
            {"id": "a", "aliases": ["shared", "b"]},
            {"id": "b", "aliases": ["shared"]},
        ],
    )
    assert found == [
        "node 'a': alias 'b' collides with node id 'b'",
        "node 'b': alias 'shared' is also an alias of node 'a'",
    ]


def test_users_on_a_non_group_node_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump({"nodes": [{"id": "kiosk", "kind": "service", "users": 3}]}))
    assert load_topology(path).impact(["kiosk"]).users == 3


def test_all_problems_collected_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("nodes: [{id: x, depends_on: [nope]}]\n")
    (tmp_path / "b.yaml").write_text("nodes: [{id: y, site: nowhere}, {id: x}]\n")
    with pytest.raises(TopologyError) as caught:
        load_topology(tmp_path)
    problems = caught.value.problems
    assert Problem(str(tmp_path / "a.yaml"), "x", "depends on unknown node 'nope'") in problems
    assert Problem(str(tmp_path / "b.yaml"), "y", "unknown site 'nowhere'") in problems
    assert any(p.file == str(tmp_path / "b.yaml") and p.node == "x" for p in problems)
    assert len(problems) == 3
    text = str(caught.value)
    assert text.splitlines()[0] == "invalid topology (3 problems)"
    assert f"{tmp_path / 'a.yaml'}: node 'x': depends on unknown node 'nope'" in text
