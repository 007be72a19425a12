"""The transport contract suite (pysoa.test.contract) against ZeroMQ workers that run jobs concurrently.

One worker per service with ``async_jobs_per_worker`` set, so every job goes through the async
server transport (soa_zmq._async_server), called by the sync client and by AsyncClient.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server import Server
from pysoa.test.contract import Connect, TransportContract
from tests.aio.blocking import LoopThread, async_connect
from tests.zmq_transport.cluster import short_ipc_dir
from tests.zmq_transport.test_contract import _ZmqServices


class _ConcurrentZmqServices(_ZmqServices):
    """One worker per service, in the default ``auto`` role, running up to 4 jobs at once."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.count = 1

    def _settings(self, server_class: type[Server]) -> dict[str, Any]:
        return {**super()._settings(server_class), "async_jobs_per_worker": 4}

    def transport(self, server_class: type[Server], serializer: str) -> dict[str, Any]:
        kwargs = {"endpoint": self.endpoint(server_class), "default_serializer_config": serializer}
        return {"name": "zmq", "kwargs": kwargs}


@pytest.fixture(scope="module")
def concurrent_services() -> Iterator[_ConcurrentZmqServices]:
    directory = Path(short_ipc_dir())
    services = _ConcurrentZmqServices(directory)
    yield services
    services.stop()
    shutil.rmtree(directory, ignore_errors=True)


class TestSyncClientConcurrentZmqWorker(TransportContract):
    serializer = "msgpack"

    @pytest.fixture
    def connect(self, concurrent_services: _ConcurrentZmqServices) -> Iterator[Connect]:
        clients: list[Client] = []

        def connect(server_class: type[Server]) -> Client:
            transport = concurrent_services.transport(server_class, self.serializer)
            client = Client({server_class.service_name or "": {"transport": transport}})
            clients.append(client)
            return client

        yield connect
        for client in clients:
            for handler in client.handlers.values():
                handler.transport.close()


class TestAsyncClientConcurrentZmqWorker(TransportContract):
    serializer = "msgpack"

    @pytest.fixture
    def connect(self, concurrent_services: _ConcurrentZmqServices, event_loop_thread: LoopThread) -> Iterator[Connect]:
        connect, close_all = async_connect(
            event_loop_thread, lambda server_class: concurrent_services.transport(server_class, self.serializer)
        )
        yield connect
        close_all()


class TestAsyncClientConcurrentZmqWorkerJson(TestAsyncClientConcurrentZmqWorker):
    serializer = "json"
    typed_values = False
