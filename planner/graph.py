"""The dependency graph of resources, on stdlib `graphlib`.

Edges come from references (`${TYPE.NAME.ATTR}`) and `depends_on`. Orders are deterministic:
nodes that become ready together are taken in address order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter

from planner.model import Address

N = Address


class CycleFound(Exception):
    def __init__(self, cycle: list[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


class Graph:
    def __init__(self, dependencies: Mapping[N, Iterable[N]]) -> None:
        """`dependencies[n]` are the nodes `n` depends on; every node must be a key."""
        self.dependencies = {n: tuple(sorted(set(deps))) for n, deps in dependencies.items()}

    def batches(self) -> list[list[N]]:
        """Groups in dependency order; the nodes of one group are independent of each other."""
        sorter = TopologicalSorter(self.dependencies)
        try:
            sorter.prepare()
        except CycleError as exc:
            nodes = list(exc.args[1])
            # graphlib lists each node before the ones that depend on it; reversed, every node
            # depends on the next, as references read (`a -> b`: a refers to b).
            raise CycleFound([str(n) for n in reversed(nodes)]) from None
        groups = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            groups.append(ready)
            sorter.done(*ready)
        return groups

    def order(self) -> list[N]:
        return [node for batch in self.batches() for node in batch]

    def dependents(self) -> dict[N, list[N]]:
        reverse: dict[N, list[N]] = {n: [] for n in self.dependencies}
        for node, deps in self.dependencies.items():
            for dep in deps:
                reverse.setdefault(dep, []).append(node)
        return reverse

    def closure(self, roots: Iterable[N]) -> set[N]:
        """`roots` and everything they depend on, transitively."""
        seen: set[N] = set()
        stack = list(roots)
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(self.dependencies.get(node, ()))
        return seen

    def to_dot(self) -> str:
        lines = ["digraph aopctl {", '  rankdir = "BT";']
        for node in sorted(self.dependencies):
            lines.append(f'  "{node}";')
        for node in sorted(self.dependencies):
            for dep in self.dependencies[node]:
                lines.append(f'  "{node}" -> "{dep}";')
        lines.append("}")
        return "\n".join(lines) + "\n"
