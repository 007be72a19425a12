"""Settings written for PySOA's example service run unchanged: a server and its self-routed client over Redis."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server.settings import ServerSettings
from tests.core.services import ExampleServer

from .servers import RedisProcess
from .test_end_to_end import _Worker

pytestmark = pytest.mark.redis

_PACKAGE = "tests.redis_transport.pysoa_example_settings"


@pytest.fixture
def example_settings(redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """``SOA_SERVER_SETTINGS`` of the example's ``dev`` settings, pointed at the private Redis by the Docker-link
    variables it reads."""
    monkeypatch.setenv("REDIS_PORT_6379_TCP_ADDR", redis_server.host)
    monkeypatch.setenv("REDIS_PORT_6379_TCP_PORT", str(redis_server.port))
    for name in (f"{_PACKAGE}.dev", f"{_PACKAGE}.base"):  # the dev module mutates the base one: load both afresh
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield importlib.import_module(f"{_PACKAGE}.dev").SOA_SERVER_SETTINGS
    for name in (f"{_PACKAGE}.dev", f"{_PACKAGE}.base"):
        sys.modules.pop(name, None)


def test_the_pysoa_example_service_settings_serve_and_route_calls(example_settings: dict[str, Any]) -> None:
    assert example_settings["transport"]["kwargs"]["backend_type"] == "redis.standard"
    worker = _Worker(ExampleServer(ServerSettings(example_settings)))
    worker.start()
    try:
        client = Client(example_settings["client_routing"])
        response = client.call_action("example", "square", {"number": 7})
        assert response.body == {"square": 49}
    finally:
        worker.stop()
