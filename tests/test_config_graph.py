"""planner.graph.Graph (orders, batches, cycles, DOT) and `aopctl graph`."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cli import main
from planner.graph import CycleFound, Graph
from planner.model import Address

EXAMPLES = Path(__file__).parent.parent / "examples"


def node(i: int) -> Address:
    return Address("aop_ssl_mode", f"n{i:02d}")


@st.composite
def dags(draw: st.DrawFn) -> dict[Address, set[Address]]:
    """A random DAG: an edge always points from a later to an earlier node of a hidden
    random order, so there is no cycle, and node names do not give that order away."""
    size = draw(st.integers(min_value=0, max_value=25))
    names = draw(st.permutations(range(size)))
    pairs = draw(st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=60))
    graph: dict[Address, set[Address]] = {node(i): set() for i in names}
    for x, y in pairs:
        if x != y and max(x, y) < size:
            later, earlier = max(x, y), min(x, y)
            graph[node(names[later])].add(node(names[earlier]))
    return graph


@settings(deadline=None)
@given(dags())
def test_order_respects_every_edge(dependencies: dict[Address, set[Address]]) -> None:
    order = Graph(dependencies).order()
    assert sorted(order) == sorted(dependencies)
    position = {n: i for i, n in enumerate(order)}
    for n, deps in dependencies.items():
        for dep in deps:
            assert position[dep] < position[n]


@settings(deadline=None)
@given(dags())
def test_batches_never_put_a_node_before_its_dependencies(
    dependencies: dict[Address, set[Address]],
) -> None:
    batches = Graph(dependencies).batches()
    seen: set[Address] = set()
    for batch in batches:
        assert batch == sorted(batch)  # deterministic: address order inside a batch
        for n in batch:
            assert dependencies[n] <= seen, f"{n} comes before one of its dependencies"
        seen |= set(batch)
    assert seen == set(dependencies)
    assert sum(len(b) for b in batches) == len(dependencies)


@settings(deadline=None)
@given(dags())
def test_each_node_lands_in_the_earliest_batch_it_can(
    dependencies: dict[Address, set[Address]],
) -> None:
    batch_of = {n: i for i, batch in enumerate(Graph(dependencies).batches()) for n in batch}
    for n, deps in dependencies.items():
        assert batch_of[n] == max((batch_of[d] + 1 for d in deps), default=0)


@settings(deadline=None)
@given(dags(), st.randoms(use_true_random=False))
def test_order_does_not_depend_on_input_order(
    dependencies: dict[Address, set[Address]], rng: random.Random
) -> None:
    items = list(dependencies.items())
    rng.shuffle(items)
    shuffled = {n: list(deps)[::-1] for n, deps in items}
    assert Graph(shuffled).batches() == Graph(dependencies).batches()


@settings(deadline=None)
@given(dags(), st.data())
def test_a_back_edge_is_reported_as_a_real_cycle(
    dependencies: dict[Address, set[Address]], data: st.DataObject
) -> None:
    edges = [(n, d) for n, deps in dependencies.items() for d in deps]
    if not edges:
        return
    a, b = data.draw(st.sampled_from(edges))  # a depends on b; make b depend on a as well
    dependencies[b] = dependencies[b] | {a}
    with pytest.raises(CycleFound) as caught:
        Graph(dependencies).batches()
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1]
    for current, following in itertools.pairwise(cycle):
        assert Address(*following.split(".")) in dependencies[Address(*current.split("."))]


def test_cycle_message_reads_in_reference_order() -> None:
    a, b, c = node(1), node(2), node(3)
    with pytest.raises(CycleFound) as caught:
        Graph({a: [b], b: [c], c: [a]}).order()
    message = str(caught.value)
    assert message.startswith("dependency cycle: ")
    rotations = {
        "aop_ssl_mode.n01 -> aop_ssl_mode.n02 -> aop_ssl_mode.n03 -> aop_ssl_mode.n01",
        "aop_ssl_mode.n02 -> aop_ssl_mode.n03 -> aop_ssl_mode.n01 -> aop_ssl_mode.n02",
        "aop_ssl_mode.n03 -> aop_ssl_mode.n01 -> aop_ssl_mode.n02 -> aop_ssl_mode.n03",
    }
    assert message.removeprefix("dependency cycle: ") in rotations


def test_dependents_closure_and_duplicates() -> None:
    a, b, c, d = node(1), node(2), node(3), node(4)
    graph = Graph({a: [], b: [a, a], c: [b], d: []})
    assert graph.dependencies[b] == (a,)
    assert graph.dependents() == {a: [b], b: [c], c: [], d: []}
    assert graph.closure([c]) == {a, b, c}
    assert graph.closure([d]) == {d}
    assert graph.batches() == [[a, d], [b], [c]]


def test_dot_lists_nodes_and_edges_in_order() -> None:
    a, b = node(1), node(2)
    assert Graph({b: [a], a: []}).to_dot() == (
        "digraph aopctl {\n"
        '  rankdir = "BT";\n'
        '  "aop_ssl_mode.n01";\n'
        '  "aop_ssl_mode.n02";\n'
        '  "aop_ssl_mode.n02" -> "aop_ssl_mode.n01";\n'
        "}\n"
    )


def test_graph_command_prints_the_example_edges() -> None:
    result = CliRunner().invoke(main, ["--chdir", str(EXAMPLES / "per-hostname"), "graph"])
    assert result.exit_code == 0, result.output
    lines = set(result.output.splitlines())
    assert result.output.startswith("digraph aopctl {\n")
    assert result.output.endswith("}\n")
    assert {
        '  "aop_hostname_binding.app" -> "aop_hostname_certificate.app";',
        '  "aop_hostname_binding.app" -> "aop_ssl_mode.com";',
        '  "aop_hostname_binding.shop" -> "aop_hostname_certificate.shop";',
        '  "aop_hostname_binding.shop" -> "aop_ssl_mode.net";',
    } <= lines
    assert len([line for line in lines if "->" in line]) == 4


def test_graph_command_shows_edges_through_locals_and_outputs_none(tmp_path: Path) -> None:
    config = {
        "locals": {"zone": "${aop_ssl_mode.main.zone}"},
        "resource": {
            "aop_ssl_mode": {"main": {"zone": "example.com", "mode": "full"}},
            "aop_global": {"main": {"zone": "${local.zone}", "enabled": True}},
            "aop_zone_settings": {"main": {"zone": "example.com", "enabled": False}},
        },
        "output": {"zone": {"value": "${aop_zone_settings.main.zone}"}},
    }
    (tmp_path / "main.aop.json").write_text(json.dumps(config), encoding="utf-8")
    result = CliRunner().invoke(main, ["--chdir", str(tmp_path), "graph"])
    assert result.exit_code == 0, result.output
    edges = [line.strip() for line in result.output.splitlines() if "->" in line]
    assert edges == ['"aop_global.main" -> "aop_ssl_mode.main";']


def test_graph_command_refuses_a_cycle(tmp_path: Path) -> None:
    config = {
        "resource": {
            "aop_ssl_mode": {
                "a": {"zone": "${aop_ssl_mode.b.zone}", "mode": "full"},
                "b": {"zone": "${aop_ssl_mode.a.zone}", "mode": "full"},
            }
        }
    }
    (tmp_path / "main.aop.json").write_text(json.dumps(config), encoding="utf-8")
    result = CliRunner().invoke(main, ["--chdir", str(tmp_path), "graph"])
    assert result.exit_code == 1
    assert "dependency cycle: aop_ssl_mode.a -> aop_ssl_mode.b -> aop_ssl_mode.a" in result.output
    assert "digraph" not in result.output
