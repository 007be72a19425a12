"""Discovery through the ``pysoa`` entry-point group: lazily, honouring the block list, attributing classes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pysoa.errors import DuplicatePluginError, PluginError
from pysoa.plugins import BLOCK_ENV_VAR, PluginManager

from .conftest import FakeDistribution

# A hooks module providing one client transport, named after the module so that tests do not clash.
HOOKS = """
from pysoa.plugins import hookimpl
from tests.core.plugins.fakes import FakeClientTransport


class {cls}(FakeClientTransport):
    name = {name!r}


@hookimpl
def pysoa_register_transports():
    return [{cls}]
"""


def _hooks(name: str) -> str:
    return HOOKS.format(cls=f"Transport_{name.replace('-', '_')}", name=name)


def test_entry_points_are_imported_on_the_first_lookup_not_before(
    fake_distribution: FakeDistribution, installed_plugin_names: frozenset[str]
) -> None:
    fake_distribution("soa-lazy", {"lazy": "lazy_hooks"}, {"lazy_hooks": _hooks("lazy")}, version="2.5")
    manager = PluginManager(blocked=installed_plugin_names)
    assert "lazy_hooks" not in sys.modules

    transport = manager.client_transport("lazy")

    assert "lazy_hooks" in sys.modules
    assert transport.__module__ == "lazy_hooks"
    [info] = [info for info in manager.describe() if info.name == "lazy"]
    assert (info.plugin, info.distribution, info.version) == ("lazy", "soa-lazy", "2.5")


def test_without_autoload_entry_points_are_never_imported(
    fake_distribution: FakeDistribution, manager: PluginManager
) -> None:
    fake_distribution("soa-ignored", {"ignored": "ignored_hooks"}, {"ignored_hooks": _hooks("ignored")})
    assert manager.names("client transport") == []
    assert "ignored_hooks" not in sys.modules


def test_a_blocked_entry_point_is_never_imported(
    fake_distribution: FakeDistribution, installed_plugin_names: frozenset[str]
) -> None:
    fake_distribution(
        "soa-two",
        {"kept": "kept_hooks", "blocked": "blocked_hooks"},
        {"kept_hooks": _hooks("kept"), "blocked_hooks": "raise RuntimeError('a blocked plugin was imported')\n"},
    )
    manager = PluginManager(blocked=installed_plugin_names | {"blocked"})
    assert manager.names("client transport") == ["kept"]
    assert "blocked_hooks" not in sys.modules


def test_the_block_list_environment_variable_applies_to_entry_points(
    fake_distribution: FakeDistribution, installed_plugin_names: frozenset[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_distribution("soa-env", {"envblocked": "envblocked_hooks"}, {"envblocked_hooks": "raise RuntimeError\n"})
    monkeypatch.setenv(BLOCK_ENV_VAR, ",".join(installed_plugin_names | {"envblocked"}))
    assert PluginManager().names("client transport") == []
    assert "envblocked_hooks" not in sys.modules


def test_an_entry_point_that_fails_to_import_names_its_distribution_and_how_to_block_it(
    fake_distribution: FakeDistribution, installed_plugin_names: frozenset[str]
) -> None:
    fake_distribution("soa-broken", {"broken": "broken_hooks"}, {"broken_hooks": "import soa_not_installed\n"})
    manager = PluginManager(blocked=installed_plugin_names)
    with pytest.raises(PluginError) as caught:
        manager.names("serializer")
    assert str(caught.value) == (
        "Could not import plugin 'broken' (soa-broken 1.0: broken_hooks): ModuleNotFoundError: "
        f"No module named 'soa_not_installed'. Set {BLOCK_ENV_VAR}=broken to run without it"
    )


def test_a_failing_hook_of_an_entry_point_says_how_to_block_it(
    fake_distribution: FakeDistribution, installed_plugin_names: frozenset[str]
) -> None:
    source = "from pysoa.plugins import hookimpl\n\n@hookimpl\ndef pysoa_register_serializers():\n    1 / 0\n"
    fake_distribution("soa-raising", {"raising": "raising_hooks"}, {"raising_hooks": source})
    with pytest.raises(PluginError, match=f"raised ZeroDivisionError: division by zero. Set {BLOCK_ENV_VAR}=raising"):
        PluginManager(blocked=installed_plugin_names).names("serializer")


def test_a_misspelled_hook_in_an_entry_point_names_the_distribution(
    fake_distribution: FakeDistribution, installed_plugin_names: frozenset[str]
) -> None:
    source = "from pysoa.plugins import hookimpl\n\n@hookimpl\ndef pysoa_register_serialiser():\n    return []\n"
    fake_distribution("soa-typo", {"typo": "typo_hooks"}, {"typo_hooks": source})
    with pytest.raises(PluginError) as caught:
        PluginManager(blocked=installed_plugin_names).names("serializer")
    assert str(caught.value).startswith(
        "Unknown hook, misspelled? plugin 'typo' (soa-typo 1.0: typo_hooks) implements 'pysoa_register_serialiser' "
        f"(did you mean 'pysoa_register_serializers'?). Set {BLOCK_ENV_VAR}=typo to run without it. Known hooks: "
    )


def test_two_distributions_declaring_one_entry_point_name_are_refused(
    fake_distribution: FakeDistribution, installed_plugin_names: frozenset[str]
) -> None:
    fake_distribution("soa-first", {"same": "first_hooks"}, {"first_hooks": _hooks("first")})
    fake_distribution("soa-second", {"same": "second_hooks"}, {"second_hooks": _hooks("second")})
    with pytest.raises(DuplicatePluginError) as caught:
        PluginManager(blocked=installed_plugin_names).names("client transport")
    message = str(caught.value)
    assert "Two distributions declare the 'pysoa' entry point 'same'" in message
    assert "soa-first 1.0: first_hooks" in message
    assert "soa-second 1.0: second_hooks" in message


def test_classes_of_two_distributions_claiming_one_name_are_refused_naming_both(
    fake_distribution: FakeDistribution, installed_plugin_names: frozenset[str]
) -> None:
    fake_distribution("soa-mine", {"mine": "mine_hooks"}, {"mine_hooks": _hooks("shared")})
    fake_distribution("soa-theirs", {"theirs": "theirs_hooks"}, {"theirs_hooks": _hooks("shared")})
    with pytest.raises(DuplicatePluginError) as caught:
        PluginManager(blocked=installed_plugin_names).client_transport("shared")
    assert str(caught.value) == (
        "Two client transport classes claim the name 'shared': "
        "mine_hooks:Transport_shared (from plugin 'mine' (soa-mine 1.0: mine_hooks)) and "
        "theirs_hooks:Transport_shared (from plugin 'theirs' (soa-theirs 1.0: theirs_hooks))"
    )


def test_importing_pysoa_imports_no_plugin(fake_distribution: FakeDistribution, tmp_path: Path) -> None:
    """In a fresh interpreter: no entry-point module (installed or not) is imported until the first lookup."""
    marker = tmp_path / "imported"
    site = fake_distribution(
        "soa-marker",
        {"marker": "marker_hooks"},
        {"marker_hooks": f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"},
    )
    script = """
import importlib.metadata, json, sys

import pysoa
import pysoa.plugins
import pysoa.common.settings
import pysoa.client
import pysoa.client.settings
import pysoa.server
import pysoa.server.settings
import pysoa.cli
from pysoa.plugins import get_plugin_manager

manager = get_plugin_manager()
modules = sorted({ep.module for ep in importlib.metadata.entry_points(group="pysoa")})
before = [m for m in modules if m in sys.modules]
manager.names("serializer")
after = [m for m in modules if m in sys.modules]
print(json.dumps({"modules": modules, "before": before, "after": after}))
"""
    env = {key: value for key, value in os.environ.items() if key != BLOCK_ENV_VAR}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "marker_hooks" in report["modules"]
    assert report["before"] == []
    assert report["after"] == report["modules"]
    assert marker.read_text() == "imported"
