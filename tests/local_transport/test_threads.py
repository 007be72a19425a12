"""soa-local: each thread gets the responses to its own requests, never another thread's."""

from __future__ import annotations

import threading
from typing import Any

from soa_local.transport import LocalClientTransport
from tests.reliability.service import SERVICE, ReliabilityServer


def _job(n: int) -> dict[str, Any]:
    return {
        "control": {"continue_on_error": False},
        "context": {"correlation_id": f"c{n}", "switches": []},
        "actions": [{"action": "echo", "body": {"n": n}}],
    }


def test_a_thread_receives_its_own_response_even_when_another_thread_sent_later() -> None:
    transport = LocalClientTransport(SERVICE, server_class=ReliabilityServer)
    first_sent = threading.Event()
    second_done = threading.Event()
    got: dict[str, Any] = {}

    def first() -> None:
        transport.send_request_message(1, {}, _job(1))
        first_sent.set()
        second_done.wait(10)  # its response waits while the other thread sends and receives
        got["first"] = transport.receive_response_message(1)
        got["first_again"] = transport.receive_response_message(1)

    def second() -> None:
        first_sent.wait(10)
        transport.send_request_message(2, {}, _job(2))
        got["second"] = transport.receive_response_message(1)
        got["second_again"] = transport.receive_response_message(1)
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert got["second"].request_id == 2
    assert got["second"].body["actions"][0]["body"]["n"] == 2
    assert got["second_again"].request_id is None  # nothing else is owed to it
    assert got["first"].request_id == 1
    assert got["first"].body["actions"][0]["body"]["n"] == 1
    assert got["first_again"].request_id is None
