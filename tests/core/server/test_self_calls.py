"""A single worker whose request.client routes to its own service is warned about at start-up."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from pysoa.common.transport.base import ClientTransport, ReceivedMessage, ServerTransport
from pysoa.errors import MessageReceiveTimeout
from pysoa.server import Server

WARNING = "routes request.client calls to itself"


class IdleServerTransport(ServerTransport):
    """Never has a request: the server's first idle turn stops it."""

    def receive_request_message(self) -> ReceivedMessage:
        raise MessageReceiveTimeout("idle")

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        raise AssertionError("no request, no response")


class RemoteClientTransport(ClientTransport):
    """Stands for a transport to other processes (Redis, ZeroMQ); never used to send here."""

    def send_request_message(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("not called at start-up")

    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        raise AssertionError("not called at start-up")


class SelfServer(Server):
    service_name = "self"
    action_class_map = {"echo": lambda request: dict(request.body)}

    def perform_idle_actions(self) -> None:
        self.shutting_down = True


HERE = "tests.core.server.test_self_calls"
REMOTE = {"transport": {"path": f"{HERE}:RemoteClientTransport"}}
LOCAL = {"transport": {"name": "local", "kwargs": {"server_class": f"{HERE}:SelfServer"}}}


def run_once(routing: dict[str, Any], forked_process_id: int | None, caplog: pytest.LogCaptureFixture) -> list[str]:
    settings = {"transport": {"path": f"{HERE}:IdleServerTransport"}, "client_routing": routing}
    server = SelfServer(settings, forked_process_id)
    with caplog.at_level(logging.WARNING, logger="pysoa.server"):
        server.run()
    assert server.exit_status == 0
    return [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]


def test_a_single_worker_routing_to_itself_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    [message] = run_once({"self": REMOTE}, None, caplog)
    assert "Service 'self'" in message
    assert "client_routing['self']" in message
    assert "--workers N" in message


@pytest.mark.parametrize(
    ("routing", "forked_process_id"),
    [
        ({"self": REMOTE}, 1),  # one of several workers under a supervisor
        ({"other": REMOTE}, None),  # calls other services only
        ({"self": LOCAL}, None),  # the local transport runs the call in this process
        ({}, None),
    ],
)
def test_no_warning_when_a_self_call_cannot_deadlock(
    routing: dict[str, Any], forked_process_id: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    assert run_once(routing, forked_process_id, caplog) == []
