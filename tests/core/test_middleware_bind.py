"""Middleware is told, once, which service it serves and through which transport (``bind``)."""

from __future__ import annotations

from typing import Any, ClassVar

from pysoa.client import Client
from pysoa.client.middleware import ClientMiddleware
from pysoa.server import Server
from pysoa.server.middleware import ServerMiddleware


class RecordingClientMiddleware(ClientMiddleware):
    bound: ClassVar[list[tuple[str, str]]] = []

    def bind(self, service_name: str, transport: Any) -> None:
        self.bound.append((service_name, type(transport).__name__))


class RecordingServerMiddleware(ServerMiddleware):
    bound: ClassVar[list[tuple[str, str]]] = []

    def bind(self, service_name: str, transport: Any) -> None:
        self.bound.append((service_name, type(transport).__name__))


class PingServer(Server):
    service_name = "bind_ping"
    action_class_map = {"ping": lambda request: {"pong": True}}


def test_client_and_server_middleware_are_bound_once_before_the_first_call() -> None:
    server_settings = {"middleware": [{"path": "tests.core.test_middleware_bind:RecordingServerMiddleware"}]}
    transport = {"name": "local", "kwargs": {"server_class": PingServer, "server_settings": server_settings}}
    middleware = [{"path": "tests.core.test_middleware_bind:RecordingClientMiddleware"}]
    client = Client({"bind_ping": {"transport": transport, "middleware": middleware}})
    client.call_action("bind_ping", "ping")
    client.call_action("bind_ping", "ping")
    assert RecordingClientMiddleware.bound == [("bind_ping", "LocalClientTransport")]
    assert RecordingServerMiddleware.bound == [("bind_ping", "LocalServerTransport")]
