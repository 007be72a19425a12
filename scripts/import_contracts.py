"""An import-linter contract type the built-in ones lack: no import cycle between modules.

``acyclic_siblings`` compares packages; a cycle between two modules of one package (``a`` imports
``b``, ``b`` imports ``a`` under ``TYPE_CHECKING`` or inside a function) passes it unnoticed. This
contract fails on every such cycle below ``root``, listing the modules of each and one import chain
around it. Registered in the root pyproject.toml as ``contract_types`` (``lint-imports`` runs from
the repository root, which it puts on ``sys.path``).
"""

from __future__ import annotations

from typing import Any

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class AcyclicModulesContract(Contract):
    """Fails when the import graph below ``root`` has a cycle of modules (a non-trivial strongly connected part)."""

    type_name = "acyclic_modules"

    root = fields.StringField()

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        root = str(self.root)
        modules = sorted({root} | set(graph.find_descendants(root)))
        inside = set(modules)
        edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in inside) for m in modules}
        cycles = [sorted(part) for part in _strongly_connected(modules, edges) if len(part) > 1]
        details = [{"modules": part, "chain": _chain_through(part, edges)} for part in cycles]
        return ContractCheck(kept=not cycles, metadata={"cycles": details})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(f"Import cycle between: {', '.join(cycle['modules'])}", bold=True)
            output.print(" -> ".join(cycle["chain"]))
            output.new_line()


def _strongly_connected(modules: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively (no recursion limit to hit on a deep graph)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[list[str]] = []
    for start in modules:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            successors = edges[node]
            if child < len(successors):
                work.append((node, child + 1))
                nxt = successors[child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                part: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    part.append(member)
                    if member == node:
                        break
                parts.append(part)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return parts


def _chain_through(part: list[str], edges: dict[str, list[str]]) -> list[str]:
    """One cycle inside ``part``, from its first module back to it (breadth-first, so a shortest one)."""
    members = set(part)
    start = part[0]
    previous: dict[str, Any] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in edges[node]:
            if nxt == start:
                chain = [node]
                while previous[chain[-1]] is not None:
                    chain.append(previous[chain[-1]])
                return [*reversed(chain), start]
            if nxt in members and nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return part
