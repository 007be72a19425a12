"""Without ``soa-local`` the test utilities that need it fail saying what to install; ``stub_action`` still works."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from pysoa.client import Client
from pysoa.errors import UnknownPluginError
from pysoa.plugins import BLOCK_ENV_VAR, PluginManager, set_plugin_manager
from pysoa.test.server import PyTestServerTestCase
from pysoa.test.stub_service import StubClient, stub_action
from tests.core.test_utilities.services import CalculatorServer

pytest_plugins = ["pytester"]

INSTALL_HINT = "pip install soa-local"


@pytest.fixture
def no_local_transport() -> Iterator[None]:
    """A plugin manager that sees only soa-core's built-ins, as when soa-local is not installed."""
    previous = set_plugin_manager(PluginManager(autoload=False, blocked=()))
    yield
    set_plugin_manager(previous)


def test_server_test_case_says_what_to_install(no_local_transport: None) -> None:
    class Case(PyTestServerTestCase):
        server_class = CalculatorServer
        server_settings: ClassVar[dict[str, Any]] = {}

    with pytest.raises(UnknownPluginError, match=INSTALL_HINT):
        Case().setup_method(None)


def test_stub_client_says_what_to_install(no_local_transport: None) -> None:
    client = StubClient({"user": {"get_user": {"body": {}}}})
    with pytest.raises(UnknownPluginError, match=INSTALL_HINT):
        client.call_action("user", "get_user")


def test_fully_stubbed_calls_need_no_transport(no_local_transport: None) -> None:
    with stub_action("user", "get_user", body={"id": 1}):
        assert Client({}).call_action("user", "get_user").body == {"id": 1}


def test_fixtures_say_what_to_install(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = [name for name in os.environ.get(BLOCK_ENV_VAR, "").split(",") if name]
    monkeypatch.setenv(BLOCK_ENV_VAR, ",".join([*blocked, "local"]))
    pytester.makepyfile(
        test_blocked="""
        import pytest

        from pysoa.server import Server


        class EchoServer(Server):
            service_name = "echo"


        @pytest.fixture(scope="module")
        def server_class():
            return EchoServer


        @pytest.fixture(scope="module")
        def server_settings():
            return {}


        def test_needs_the_service(service_client):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{INSTALL_HINT}*"])
