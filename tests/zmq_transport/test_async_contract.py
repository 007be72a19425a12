"""The transport contract suite (pysoa.test.contract) through AsyncClient over ZeroMQ (its asyncio
client), against real workers and router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.server import Server
from pysoa.test.contract import Connect, TransportContract
from tests.aio.blocking import LoopThread, async_connect
from tests.zmq_transport.test_contract import _ZmqServices, zmq_services  # noqa: F401 - a fixture


class TestAsyncZmqMsgpack(TransportContract):
    serializer = "msgpack"

    @pytest.fixture
    def connect(self, zmq_services: _ZmqServices, event_loop_thread: LoopThread) -> Iterator[Connect]:  # noqa: F811
        def transport(server_class: type[Server]) -> dict[str, Any]:
            kwargs = {"endpoint": zmq_services.endpoint(server_class), "default_serializer_config": self.serializer}
            return {"name": "zmq", "kwargs": kwargs}

        connect, close_all = async_connect(event_loop_thread, transport)
        yield connect
        close_all()


class TestAsyncZmqJson(TestAsyncZmqMsgpack):
    serializer = "json"
    typed_values = False
