"""Which responses a client thread expects, and for how long: real ZeroMQ sockets, the test plays the service.

A response is expected until its request's expiry plus a grace period, so a receive that timed out
(a future's ``result(timeout)``) can wait again and still get it; after that the request is
forgotten, so expectations cannot pile up.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from pysoa.client import Client
from pysoa.common.transport.base import NO_MESSAGE
from pysoa.errors import MessageReceiveTimeout
from soa_zmq import _client
from soa_zmq._protocol import response_header
from soa_zmq._sockets import get_context
from soa_zmq.transport import ZmqClientTransport

# Generous: other agents share the machine. Bounds are two-sided: never early, not much late.
LATE = 0.25


@pytest.fixture
def endpoint(ipc_dir: Path) -> str:
    return f"ipc://{ipc_dir}/svc"


@pytest.fixture
def service(endpoint: str) -> Iterator[zmq.Socket[Any]]:
    """A bare ROUTER socket on the endpoint: the test reads requests and answers them by hand."""
    sock: zmq.Socket[Any] = get_context().socket(zmq.ROUTER)
    sock.bind(endpoint)
    yield sock
    sock.close(linger=0)


@pytest.fixture
def transport(endpoint: str) -> Iterator[ZmqClientTransport]:
    client = ZmqClientTransport("svc", endpoint=endpoint)
    yield client
    client.close()


def _answer(service: zmq.Socket[Any], transport: ZmqClientTransport, body: dict[str, Any]) -> Any:
    """Read one request off ``service`` and send its response; returns the request id."""
    assert service.poll(5000, zmq.POLLIN), "no request reached the service"
    identity, _header, blob = service.recv_multipart()
    request_id = transport.serializer.blob_to_dict(blob)["request_id"]
    response = transport.serializer.dict_to_blob({"request_id": request_id, "meta": {}, "body": body})
    service.send_multipart([identity, response_header(transport.serializer.mime_type.encode("ascii")), response])
    return request_id


def _timed_out_receive(transport: ZmqClientTransport, timeout: float) -> str:
    """Receive, expecting a timeout within the bounds; returns the error message."""
    started = time.monotonic()
    with pytest.raises(MessageReceiveTimeout) as caught:
        transport.receive_response_message(timeout)
    took = time.monotonic() - started
    assert timeout <= took <= timeout + LATE, took
    return str(caught.value)


def test_a_receive_that_timed_out_can_wait_again_and_still_get_the_late_response(
    service: zmq.Socket[Any], transport: ZmqClientTransport
) -> None:
    transport.send_request_message(1, {}, {"actions": []}, message_expiry_in_seconds=0.2)
    _timed_out_receive(transport, 0.3)
    # The request's expiry has passed, but a worker may have taken it just in time: still expected.
    _timed_out_receive(transport, 0.3)
    assert transport.requests_outstanding == 1

    _answer(service, transport, {"late": True})
    started = time.monotonic()
    request_id, _meta, body = transport.receive_response_message(5)
    assert time.monotonic() - started < 1
    assert (request_id, body) == (1, {"late": True})
    assert transport.requests_outstanding == 0


def test_the_timeout_states_the_time_waited_and_the_endpoint(
    service: zmq.Socket[Any], transport: ZmqClientTransport, endpoint: str
) -> None:
    transport.send_request_message(1, {}, {"actions": []})
    message = _timed_out_receive(transport, 0.4)
    match = re.fullmatch(rf"nothing arrived from 'svc' at {re.escape(endpoint)} after (\d+\.\d{{3}}) s", message)
    assert match is not None, message
    assert 0.4 <= float(match.group(1)) <= 0.4 + LATE


def test_a_response_is_expected_until_the_expiry_plus_the_grace_period_then_forgotten(
    service: zmq.Socket[Any], transport: ZmqClientTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_client, "_RESPONSE_GRACE_SECONDS", 0.6)
    sent = time.monotonic()
    transport.send_request_message(1, {}, {"actions": []}, message_expiry_in_seconds=0.2)
    # Each receive waits its full timeout while the response is expected; the first one after the
    # expiry plus the grace (0.8 s) finds nothing to wait for and returns at once.
    while True:
        started = time.monotonic()
        try:
            received = transport.receive_response_message(0.1)
        except MessageReceiveTimeout:
            assert time.monotonic() - sent < 0.8 + LATE, "still expected long after the expiry plus the grace"
            continue
        assert received == NO_MESSAGE
        assert time.monotonic() - started < 0.05
        break
    assert 0.8 <= started - sent <= 0.8 + LATE
    assert transport.requests_outstanding == 0


def test_expectations_do_not_pile_up_in_a_thread_that_only_sends(
    service: zmq.Socket[Any], transport: ZmqClientTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_client, "_RESPONSE_GRACE_SECONDS", 0.1)
    for request_id in range(50):
        transport.send_request_message(request_id, {}, {"actions": []}, message_expiry_in_seconds=0.1)
    expected = transport._state().outstanding  # requests_outstanding would prune them itself
    assert len(expected) == 50
    time.sleep(0.3)  # their expiry and grace (0.2 s) must pass: no event marks it
    transport.send_request_message(50, {}, {"actions": []}, message_expiry_in_seconds=30)
    assert list(expected) == [50]


def test_a_request_whose_response_is_suppressed_is_not_expected(
    service: zmq.Socket[Any], transport: ZmqClientTransport
) -> None:
    transport.send_request_message(1, {}, {"control": {"suppress_response": True}, "actions": []})
    assert transport.requests_outstanding == 0
    assert transport.receive_response_message(5) == NO_MESSAGE


def test_a_future_whose_response_is_no_longer_expected_is_released(
    service: zmq.Socket[Any], endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_client, "_RESPONSE_GRACE_SECONDS", 0.3)
    client = Client({"svc": {"transport": {"name": "zmq", "kwargs": {"endpoint": endpoint}}}})
    transport = client._get_handler("svc").transport
    assert isinstance(transport, ZmqClientTransport)
    called = time.monotonic()
    future = client.call_action_future("svc", "echo", {"n": 1}, timeout=0.2)
    with pytest.raises(MessageReceiveTimeout):
        future.result()
    # Asked again, it waits while the response may come (0.2 s expiry + 0.3 s grace), then gives up at once.
    while True:
        try:
            future.result(timeout=0.1)
        except MessageReceiveTimeout as exc:
            if "expects no response" in str(exc):
                break
            assert time.monotonic() - called < 0.5 + LATE, "still waiting long after the expiry plus the grace"
    assert 0.5 <= time.monotonic() - called <= 0.5 + LATE

    # Released: its late response is dropped, and the next call gets its own.
    _answer(service, transport, {"actions": [{"action": "echo", "body": {"n": 1}}], "errors": []})
    next_call = client.call_action_future("svc", "echo", {"n": 2}, timeout=5)
    _answer(service, transport, {"actions": [{"action": "echo", "body": {"n": 2}}], "errors": []})
    assert next_call.result().body == {"n": 2}
    client.close()
