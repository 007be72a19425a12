"""The transport contract suite (pysoa.test.contract) through AsyncClient over the local transport."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.server import Server
from pysoa.test.contract import Connect, TransportContract
from tests.aio.blocking import LoopThread, async_connect


class TestAsyncLocalMsgpack(TransportContract):
    serializer = "msgpack"

    @pytest.fixture
    def connect(self, event_loop_thread: LoopThread) -> Iterator[Connect]:
        def transport(server_class: type[Server]) -> dict[str, Any]:
            kwargs = {"server_class": server_class, "server_settings": {}, "serializer": self.serializer}
            return {"name": "local", "kwargs": kwargs}

        connect, close_all = async_connect(event_loop_thread, transport)
        yield connect
        close_all()


class TestAsyncLocalJson(TestAsyncLocalMsgpack):
    serializer = "json"
    typed_values = False
