"""The transport contract suite (pysoa.test.contract) over ZeroMQ, with real worker processes.

msgpack and JSON clients; two workers per service in the default ``auto`` role (the first one
starts the service's router).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server import Server
from pysoa.test.contract import Connect, ServerProcesses, TransportContract
from soa_zmq._settings import server_options
from soa_zmq.router import stop_router
from tests.zmq_transport.cluster import short_ipc_dir


class _ZmqServices(ServerProcesses):
    """One endpoint, router and two workers per server class, started on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.endpoints: dict[type[Server], str] = {}
        super().__init__(self._settings)

    def endpoint(self, server_class: type[Server]) -> str:
        if server_class not in self.endpoints:
            self.endpoints[server_class] = f"ipc://{self.directory}/{len(self.endpoints)}"
        self.start(server_class)
        return self.endpoints[server_class]

    def _settings(self, server_class: type[Server]) -> dict[str, Any]:
        kwargs = {
            "endpoint": self.endpoints[server_class],
            "receive_timeout_in_seconds": 0.3,
            "router_idle_exit_in_seconds": 5,
        }
        return {"transport": {"name": "zmq", "kwargs": kwargs}, "harakiri": {"timeout": 0, "shutdown_grace": 5}}

    def stop(self) -> None:
        super().stop()
        for endpoint in self.endpoints.values():
            stop_router(server_options({"endpoint": endpoint}).lock_file)


@pytest.fixture(scope="module")
def zmq_services() -> Iterator[_ZmqServices]:
    directory = Path(short_ipc_dir())
    services = _ZmqServices(directory)
    yield services
    services.stop()
    shutil.rmtree(directory, ignore_errors=True)


class TestZmqMsgpack(TransportContract):
    serializer = "msgpack"

    @pytest.fixture
    def connect(self, zmq_services: _ZmqServices) -> Iterator[Connect]:
        clients: list[Client] = []

        def connect(server_class: type[Server]) -> Client:
            kwargs = {"endpoint": zmq_services.endpoint(server_class), "default_serializer_config": self.serializer}
            client = Client({server_class.service_name or "": {"transport": {"name": "zmq", "kwargs": kwargs}}})
            clients.append(client)
            return client

        yield connect
        for client in clients:
            for handler in client.handlers.values():
                handler.transport.close()


class TestZmqJson(TestZmqMsgpack):
    serializer = "json"
    typed_values = False
