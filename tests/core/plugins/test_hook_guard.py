"""Guard: every hook in pysoa.plugins.hookspecs is documented (docstring and docs/plugins.md) and tested.

Adding a hook without documenting it in docs/plugins.md, or without any test that uses it, fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from pysoa.plugins import hookspecs

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "plugins.md"


def _hookspecs() -> list[str]:
    return sorted(
        name for name, function in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(function, "pysoa_spec")
    )


HOOKS = _hookspecs()


def test_there_are_hooks_and_all_of_them_are_public() -> None:
    assert HOOKS == ["pysoa_register_middleware", "pysoa_register_serializers", "pysoa_register_transports"]
    assert set(HOOKS) <= set(hookspecs.__all__)


@pytest.mark.parametrize("hook", HOOKS)
def test_the_hook_has_a_docstring_with_an_example(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.split()) >= 20, f"{hook} needs a docstring: it is the plugin author's reference"
    assert "Example::" in doc, f"{hook}'s docstring needs an example"
    assert "@hookimpl" in doc, f"{hook}'s docstring needs an example"


def _sections(markdown: str) -> dict[str, str]:
    """Heading line -> the text up to the next heading (lines inside ``` fences are never headings)."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,6} ", line):
            current = sections.setdefault(line, [])
        else:
            current.append(line)
    return {heading: "\n".join(lines) for heading, lines in sections.items()}


@pytest.mark.parametrize("hook", HOOKS)
def test_the_hook_is_documented_in_docs_plugins_md(hook: str) -> None:
    signature = f"{hook}(){inspect.signature(getattr(hookspecs, hook)).return_annotation}"
    heading = f"### `{signature.replace('()', '() -> ', 1)}`"
    sections = _sections(DOCS.read_text())
    assert heading in sections, f"docs/plugins.md needs the section {heading!r}"
    body = sections[heading]
    assert "@hookimpl" in body, f"the {hook} section of docs/plugins.md needs an example plugin"
    assert re.search(r"\b[Cc]alled\b", body), f"the {hook} section of docs/plugins.md must say when it is called"


@pytest.mark.parametrize("hook", HOOKS)
def test_the_hook_is_exercised_by_a_test(hook: str) -> None:
    this = Path(__file__).resolve()
    users = [
        path.relative_to(ROOT)
        for path in (ROOT / "tests").rglob("test_*.py")
        if path.resolve() != this and hook in path.read_text()
    ]
    assert users, f"no test under tests/ uses {hook}"
