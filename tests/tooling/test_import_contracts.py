"""The acyclic_modules import-linter contract (scripts/import_contracts.py) that make lint runs.

In tests/tooling, not tests/core: it needs the development tools (grimp, import-linter), which the
lowest-versions environment of `make lowest` (it runs tests/core) does not install.
"""

from __future__ import annotations

import grimp
import pytest

from scripts.import_contracts import AcyclicModulesContract


def _graph(imports: list[tuple[str, str]]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported)
    graph.add_module("pkg")
    return graph


def _check(imports: list[tuple[str, str]]) -> tuple[bool, list[dict[str, list[str]]]]:
    contract = AcyclicModulesContract("no cycles", session_options={}, contract_options={"root": "pkg"})
    check = contract.check(_graph(imports), verbose=False)
    return check.kept, check.metadata["cycles"]


def test_a_layered_graph_keeps_the_contract() -> None:
    kept, cycles = _check([("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.a", "pkg.c"), ("pkg.c", "outside")])
    assert kept
    assert cycles == []


def test_a_cycle_inside_one_package_breaks_it_naming_the_modules_and_a_chain() -> None:
    kept, cycles = _check([("pkg.sub.a", "pkg.sub.b"), ("pkg.sub.b", "pkg.sub.c"), ("pkg.sub.c", "pkg.sub.a")])
    assert not kept
    assert cycles == [
        {
            "modules": ["pkg.sub.a", "pkg.sub.b", "pkg.sub.c"],
            "chain": ["pkg.sub.a", "pkg.sub.b", "pkg.sub.c", "pkg.sub.a"],
        }
    ]


def test_every_separate_cycle_is_reported_and_imports_outside_the_root_are_ignored() -> None:
    kept, cycles = _check(
        [
            ("pkg.a", "pkg.b"),
            ("pkg.b", "pkg.a"),
            ("pkg.x", "pkg.y"),
            ("pkg.y", "pkg.x"),
            ("pkg.a", "other.m"),
            ("other.m", "pkg.a"),  # a cycle through another package is not this contract's concern
        ]
    )
    assert not kept
    assert sorted(c["modules"] for c in cycles) == [["pkg.a", "pkg.b"], ["pkg.x", "pkg.y"]]


@pytest.mark.parametrize("length", [2, 500])
def test_long_chains_need_no_recursion(length: int) -> None:
    chain = [(f"pkg.m{i}", f"pkg.m{i + 1}") for i in range(length)]
    kept, _ = _check(chain)
    assert kept
    kept, cycles = _check([*chain, (f"pkg.m{length}", "pkg.m0")])
    assert not kept
    assert len(cycles[0]["modules"]) == length + 1
