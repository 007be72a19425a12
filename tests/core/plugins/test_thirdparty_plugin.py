"""End to end: a third-party plugin distribution, installed for real, is found through its entry point.

``tests/thirdparty_plugin`` (distribution ``soa-testplugin-echo``) is installed, non-editable, into a
throwaway virtual environment that also sees the development environment's packages; a fresh
interpreter there lists it with ``python -m pysoa plugins`` and uses its transport and middleware,
selected by name in settings, for a real call. The development environment is left untouched.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .venvs import ROOT, create_venv, run

PLUGIN_SOURCE = ROOT / "tests" / "thirdparty_plugin"

CALL_SCRIPT = """
import json
import threading

import soa_testplugin_echo
from pysoa.client import Client
from pysoa.client.settings import ClientSettings
from pysoa.server.action import Action
from pysoa.server.server import Server


class EchoAction(Action):
    def run(self, request):
        return {"body": dict(request.body), "stamp": request.context.get("stamp")}


class EchoServer(Server):
    service_name = "echoed"
    action_class_map = {"echo": EchoAction}


settings = ClientSettings({"transport": "echo", "middleware": [{"name": "echo-stamp", "kwargs": {"stamp": "s"}}]})
server = EchoServer({"transport": {"name": "echo", "kwargs": {"receive_timeout_in_seconds": 30}}})
worker = threading.Thread(target=server.handle_next_request)
worker.start()
client = Client(
    {"echoed": {"transport": "echo", "middleware": [{"name": "echo-stamp", "kwargs": {"stamp": "from-settings"}}]}}
)
response = client.call_action("echoed", "echo", body={"x": 1}, timeout=30)
worker.join(30)
print(json.dumps({
    "module": soa_testplugin_echo.__file__,
    "client_transport": settings["transport"]["path"],
    "server_transport": server.settings["transport"]["path"],
    "middleware": [m["path"] for m in settings["middleware"]],
    "response": response.body,
}))
"""


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("thirdparty")
    try:
        # Build from a copy, so that nothing is ever written into the source tree.
        source = shutil.copytree(PLUGIN_SOURCE, root / "source", ignore=shutil.ignore_patterns("__pycache__"))
        python = create_venv(root / "venv", see_dev_packages=True)
        run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", source)
        yield python
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_plugin_is_not_installed_in_the_development_environment() -> None:
    assert importlib.util.find_spec("soa_testplugin_echo") is None


def test_soa_plugins_lists_it_with_its_distribution(venv_python: Path) -> None:
    rows = json.loads(run(venv_python, "-m", "pysoa", "plugins", "--json").stdout)
    echo = sorted((row["kind"], row["name"], row["class"]) for row in rows if row["plugin"] == "echo")
    assert echo == [
        ("client middleware", "echo-stamp", "soa_testplugin_echo.middleware:StampMiddleware"),
        ("client transport", "echo", "soa_testplugin_echo.transport:EchoClientTransport"),
        ("server transport", "echo", "soa_testplugin_echo.transport:EchoServerTransport"),
    ]
    assert {(row["distribution"], row["version"]) for row in rows if row["plugin"] == "echo"} == {
        ("soa-testplugin-echo", "0.1.0")
    }
    # Installed plugins are listed beside it.
    assert ("serializer", "msgpack") in {(row["kind"], row["name"]) for row in rows}


def test_settings_select_it_by_name_and_a_call_goes_through_it(venv_python: Path) -> None:
    report = json.loads(run(venv_python, "-c", CALL_SCRIPT).stdout)
    assert Path(report["module"]).is_relative_to(venv_python.parent.parent)
    assert report["client_transport"] == "soa_testplugin_echo.transport:EchoClientTransport"
    assert report["server_transport"] == "soa_testplugin_echo.transport:EchoServerTransport"
    assert report["middleware"] == ["soa_testplugin_echo.middleware:StampMiddleware"]
    # The server's answer came back over the plugin's transport, and the plugin's middleware,
    # configured with kwargs in settings, stamped the request on its way out.
    assert report["response"] == {"body": {"x": 1}, "stamp": "from-settings"}
