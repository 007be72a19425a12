"""The transports' per-call shortcuts: each one still does what the long way did.

Real sockets; the test plays the service (for the client) or the client (for the worker).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zmq

from pysoa.common.transport.base import ReceivedMessage
from pysoa.errors import MessageReceiveTimeout
from soa_zmq import _client, _server
from soa_zmq._protocol import (
    LEASE_ENDED,
    LEASES,
    REQUEST,
    REVOKE,
    control_header,
    parse_header,
    request_header,
    response_header,
)
from soa_zmq._sockets import get_context, process
from soa_zmq.transport import ZmqClientTransport, ZmqServerTransport
from tests.zmq_transport.test_expectations import endpoint as endpoint  # the fixtures
from tests.zmq_transport.test_expectations import service as service
from tests.zmq_transport.test_expectations import transport as transport


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[int]:
    """Record every RCVTIMEO ``module`` sets."""
    calls: list[int] = []
    real: Callable[[zmq.Socket[Any], int], None] = module.set_receive_timeout

    def counted(sock: zmq.Socket[Any], milliseconds: int) -> None:
        calls.append(milliseconds)
        real(sock, milliseconds)

    monkeypatch.setattr(module, "set_receive_timeout", counted)
    return calls


def _meta(message: ReceivedMessage) -> dict[str, Any]:
    assert message.meta is not None
    return message.meta


def _answer(service: zmq.Socket[Any], transport: ZmqClientTransport) -> None:
    assert service.poll(5000, zmq.POLLIN), "no request reached the service"
    identity, _header, blob = service.recv_multipart()
    request_id = transport.serializer.blob_to_dict(blob)["request_id"]
    response = transport.serializer.dict_to_blob({"request_id": request_id, "meta": {}, "body": {}})
    service.send_multipart([identity, response_header(transport.serializer.mime_type.encode("ascii")), response])


def test_the_process_id_follows_a_fork() -> None:
    """Sockets are never used across a fork: the cached pid they are checked against is the child's own."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            os.write(write, f"{process.pid} {os.getpid()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        seen, actual = pipe.read().split()
    os.waitpid(pid, 0)
    assert seen == actual
    assert int(seen) != os.getpid()
    assert process.pid == os.getpid()


def test_a_forked_child_gets_its_own_socket(service: zmq.Socket[Any], transport: ZmqClientTransport) -> None:
    transport.send_request_message(1, {}, {"actions": []})
    _answer(service, transport)
    parent_state = transport._state()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            os.write(write, b"new" if transport._state() is not parent_state else b"inherited")
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        assert pipe.read() == "new"
    os.waitpid(pid, 0)
    assert transport._state() is parent_state


def test_the_client_sets_its_receive_timeout_only_when_it_changes(
    monkeypatch: pytest.MonkeyPatch, service: zmq.Socket[Any], transport: ZmqClientTransport
) -> None:
    calls = _counting(monkeypatch, _client)
    for request_id in (1, 2):
        transport.send_request_message(request_id, {}, {"actions": []})
        _answer(service, transport)
        assert transport.receive_response_message(30).request_id == request_id
    assert calls == [30000]
    transport.send_request_message(3, {}, {"actions": []})
    _answer(service, transport)
    assert transport.receive_response_message(7).request_id == 3
    assert calls == [30000, 7000]
    assert transport._state().socket.getsockopt(zmq.RCVTIMEO) == 7000


def test_a_standalone_worker_sets_its_receive_timeout_once(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, ipc_dir: Path
) -> None:
    calls = _counting(monkeypatch, _server)
    server = ZmqServerTransport(
        "svc",
        endpoint=endpoint,
        role="standalone",
        router_lock_file=str(ipc_dir / "lock"),
        receive_timeout_in_seconds=30,
    )
    client: zmq.Socket[Any] = get_context().socket(zmq.DEALER)
    try:
        server._connected()
        client.connect(endpoint)
        blob = server.serializer.dict_to_blob({"request_id": 1, "meta": {}, "body": {"actions": []}})
        header = request_header(4e9, server.serializer.mime_type.encode("ascii"))
        for request_id in (1, 2, 3):
            client.send_multipart([header, blob])
            message = server.receive_request_message()
            assert message.request_id == 1
            server.send_response_message(request_id, _meta(message), {})
            assert client.poll(5000, zmq.POLLIN)
            response_header_frame, _response = client.recv_multipart()
            assert parse_header(response_header_frame).kind != REQUEST
        assert len(calls) == 1
        assert 29000 <= calls[0] <= 30000
    finally:
        client.close(linger=0)
        server.close()


def _send_when_connected(router: zmq.Socket[Any], frames: list[bytes]) -> None:
    """Send to a peer of a ROUTER_MANDATORY socket once its connection is there."""
    for _ in range(500):
        try:
            router.send_multipart(frames)
            return
        except zmq.ZMQError:
            router.poll(10)
    raise AssertionError("the worker never connected")


def _response_meta(router: zmq.Socket[Any], server: ZmqServerTransport) -> dict[str, Any]:
    """Read the worker's messages to the router up to its next response; returns the response's meta."""
    while True:
        assert router.poll(5000, zmq.POLLIN), "no response reached the router"
        frames = router.recv_multipart()
        if len(frames) == 4:
            meta: dict[str, Any] = server.serializer.blob_to_dict(frames[3])["meta"]
            return meta


def test_a_leasing_worker_watches_only_the_router_until_its_first_offer_and_refuses_late_direct_requests(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, ipc_dir: Path
) -> None:
    polls: list[int] = []
    real_poll = zmq.zmq_poll

    def counted_poll(items: Any, timeout: int) -> Any:
        polls.append(timeout)
        return real_poll(items, timeout)

    monkeypatch.setattr(_server, "zmq_poll", counted_poll)
    backend = f"ipc://{ipc_dir}/backend"
    router: zmq.Socket[Any] = get_context().socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.bind(backend)
    server = ZmqServerTransport(
        "svc",
        endpoint=endpoint,
        backend_endpoint=backend,
        role="worker",
        router_lock_file=str(ipc_dir / "lock"),
        receive_timeout_in_seconds=1,
        heartbeat_interval_in_seconds=10,
        lease_hold_time_in_seconds=5,
    )
    client_id = b"c-lessee"
    lessee: zmq.Socket[Any] = get_context().socket(zmq.DEALER)
    lessee.setsockopt(zmq.IDENTITY, client_id)
    try:
        worker_id = server._connected().getsockopt(zmq.IDENTITY)
        assert isinstance(worker_id, bytes)
        mime = server.serializer.mime_type.encode("ascii")
        header = request_header(4e9, mime)

        def request(request_id: int, meta: dict[str, Any]) -> bytes:
            return server.serializer.dict_to_blob({"request_id": request_id, "meta": meta, "body": {"actions": []}})

        # No offer made yet: the router's socket alone, no poller.
        _send_when_connected(router, [worker_id, client_id, header, request(1, {})])
        message = server.receive_request_message()
        server.send_response_message(message.request_id, _meta(message), {})
        assert "__zmq_lease__" not in _response_meta(router, server)
        router.send_multipart([worker_id, control_header(LEASES)])
        router.send_multipart([worker_id, client_id, header, request(2, {"__zmq_lease__": True})])
        message = server.receive_request_message()
        assert message.request_id == 2
        assert polls == []
        server.send_response_message(message.request_id, _meta(message), {})
        lease_id, announced, _hold, _lifetime, _size = _response_meta(router, server)["__zmq_lease__"]
        lease_frame = lease_id.to_bytes(8, "big")

        # Leased: both sockets; the lessee's direct request is served and answered directly.
        lessee.connect(announced)
        lessee.send_multipart([header, request(3, {}), lease_frame])
        message = server.receive_request_message()
        assert message.request_id == 3
        assert polls
        server.send_response_message(message.request_id, _meta(message), {})
        assert lessee.poll(5000, zmq.POLLIN)
        assert server.serializer.blob_to_dict(lessee.recv_multipart()[1])["request_id"] == 3

        # Revoked: a direct request the lessee sent meanwhile is refused, not left unanswered (once a
        # worker has offered a lease it always watches its direct socket).
        router.send_multipart([worker_id, control_header(REVOKE)])
        lessee.send_multipart([header, request(4, {}), lease_frame])
        with pytest.raises(MessageReceiveTimeout):
            server.receive_request_message()
        assert lessee.poll(5000, zmq.POLLIN)
        assert lessee.recv_multipart() == [control_header(LEASE_ENDED)]
    finally:
        lessee.close(linger=0)
        server.close()
        router.close(linger=0)
