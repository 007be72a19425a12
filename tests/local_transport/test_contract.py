"""The transport contract suite (pysoa.test.contract) over the local transport, with both serializers."""

from __future__ import annotations

from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server import Server
from pysoa.test.contract import Connect, TransportContract


class TestLocalMsgpack(TransportContract):
    serializer = "msgpack"

    @pytest.fixture
    def connect(self) -> Connect:
        def connect(server_class: type[Server]) -> Client:
            kwargs: dict[str, Any] = {
                "server_class": server_class,
                "server_settings": {},
                "serializer": self.serializer,
            }
            return Client({server_class.service_name or "": {"transport": {"name": "local", "kwargs": kwargs}}})

        return connect


class TestLocalJson(TestLocalMsgpack):
    serializer = "json"
    typed_values = False
