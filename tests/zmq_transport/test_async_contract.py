"""The shared contract suite through AsyncClient over ZeroMQ (its asyncio client), against real workers and router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.client import AsyncClient
from pysoa.server import Server
from tests.contract.conftest import Connect
from tests.contract.test_async_contract import _Blocking, _Loop, _make_async_client, event_loop_thread  # noqa: F401
from tests.contract.test_contract import *  # noqa: F403 - the contract tests, collected again here
from tests.zmq_transport.test_contract import _Services, zmq_services  # noqa: F401


@pytest.fixture(params=["async-zmq-msgpack", "async-zmq-json"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def connect(backend: str, request: pytest.FixtureRequest) -> Iterator[Connect]:
    # By name: the two fixtures are imported into this module, so they cannot also be parameter names here.
    services: _Services = request.getfixturevalue("zmq_services")
    loop: _Loop = request.getfixturevalue("event_loop_thread")
    clients: list[AsyncClient] = []

    def connect(server_class: type[Server]) -> Any:
        kwargs: dict[str, Any] = {
            "endpoint": services.endpoint(server_class),
            "default_serializer_config": backend.removeprefix("async-zmq-"),
        }
        settings = {server_class.service_name or "": {"transport": {"name": "zmq", "kwargs": kwargs}}}
        client = loop.run(_make_async_client(settings))
        clients.append(client)
        return _Blocking(client, loop)

    yield connect
    for client in clients:
        loop.run(client.aclose())
