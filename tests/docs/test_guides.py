"""The guides' examples run as written, and the settings reference covers every setting.

Each guide's ``python`` blocks run in order as one script (``py`` blocks are illustrations that
need a real deployment and are not run).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pysoa.client.settings import ClientSettings
from pysoa.plugins import get_plugin_manager
from pysoa.server.settings import ServerSettings

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = [
    "actions.md",
    "errors.md",
    "calling-services.md",
    "status.md",
    "middleware.md",
    "observability.md",
    "asyncio.md",
]


@pytest.mark.parametrize("page", GUIDES)
def test_the_guide_examples_run_as_written(page: str, tmp_path: Path) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(), flags=re.S | re.M)
    assert len(blocks) >= 2, f"{page} has too few python examples"
    # A prefix, so that asyncio.md does not become a script named asyncio.py shadowing the module.
    script = tmp_path / ("guide_" + page.replace(".md", ".py").replace("-", "_"))
    script.write_text("\n".join(blocks))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{page}:\n{result.stderr}"


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_reference", DOCS / "_hooks" / "settings_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _documented_settings(table: str) -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)


@pytest.mark.parametrize(("name", "settings_class"), [("server", ServerSettings), ("client", ClientSettings)])
def test_the_reference_lists_every_server_and_client_setting(name: str, settings_class: type) -> None:
    rows = _documented_settings(_hook().render(name))
    assert [row for row in rows if "." not in row] == list(settings_class.schema)  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", ["client", "server"])
@pytest.mark.parametrize("transport", ["local", "redis", "zmq"])
def test_the_reference_lists_every_transport_setting(role: str, transport: str) -> None:
    schema = get_plugin_manager().get(f"{role} transport", transport).settings_schema
    rows = _documented_settings(_hook().render(f"{role} transport {transport}"))
    assert [row for row in rows if "." not in row] == list(schema.contents)


def test_the_reference_shows_defaults_and_nested_keys() -> None:
    table = _hook().render("server")
    assert "| `harakiri.timeout` | integer (≥ 0) | yes | `300` | Seconds a job may run; 0 disables |" in table
    assert "| `coroutine_middleware[].path` | string | yes |" in table
    redis = _hook().render("client transport redis")
    assert "| `queue_capacity` | integer (> 0) | no | `10000` |" in redis


def test_a_marker_naming_no_schema_fails_the_build() -> None:
    with pytest.raises(Exception, match="nosuch"):
        _hook().on_page_markdown("<!-- settings-reference: client transport nosuch -->\n")
