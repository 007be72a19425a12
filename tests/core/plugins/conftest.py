from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from pysoa.plugins import ENTRY_POINT_GROUP, PluginManager, set_plugin_manager

FakeDistribution = Callable[..., Path]


@pytest.fixture
def manager() -> Iterator[PluginManager]:
    """A manager that sees only soa-core's built-ins and what the test registers, installed as the default."""
    manager = PluginManager(autoload=False, blocked=())
    previous = set_plugin_manager(manager)
    yield manager
    set_plugin_manager(previous)


@pytest.fixture
def installed_plugin_names() -> frozenset[str]:
    """Entry-point names of the plugins really installed; tests block them to see only their own."""
    return frozenset(ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDistribution]:
    """Writes an (uninstalled) distribution with ``pysoa`` entry points into a directory on sys.path.

    ``importlib.metadata`` finds it exactly as it finds an installed one. Its modules are dropped
    from ``sys.modules`` after the test.
    """
    created: list[str] = []

    def make(
        distribution: str, entry_points: Mapping[str, str], modules: Mapping[str, str], version: str = "1.0"
    ) -> Path:
        site = tmp_path / f"site-{distribution}"
        site.mkdir()
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            created.append(module)
        info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}")
        monkeypatch.syspath_prepend(str(site))
        return site

    yield make
    for module in created:
        sys.modules.pop(module, None)
