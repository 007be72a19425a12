"""The router's dispatch rules, driven by hand-made clients and workers (raw ZeroMQ sockets)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zmq

from soa_zmq._protocol import (
    BOUNCE,
    BYE,
    DISCONNECT,
    HEARTBEAT,
    READY,
    control_header,
    parse_header,
    request_header,
    response_header,
)
from soa_zmq.router import Router, RouterConfig
from tests.zmq_transport.cluster import wait_until

CONTENT_TYPE = b"application/msgpack"


@dataclass
class Running:
    router: Router
    context: zmq.Context[Any]
    config: RouterConfig
    sockets: list[zmq.Socket[Any]] = field(default_factory=list)

    def _socket(self) -> zmq.Socket[Any]:
        sock: zmq.Socket[Any] = self.context.socket(zmq.DEALER)
        self.sockets.append(sock)
        return sock

    def client(self) -> zmq.Socket[Any]:
        sock = self._socket()
        sock.connect(self.config.endpoint)
        return sock

    def worker(self, name: bytes, announce: bool = True) -> zmq.Socket[Any]:
        sock = self._socket()
        sock.setsockopt(zmq.IDENTITY, name)
        sock.connect(self.config.backend_endpoint)
        if announce:
            sock.send(control_header(READY))
            wait_until(lambda: name in self.router.ready, 5, f"worker {name!r} to be ready")
        return sock


@pytest.fixture
def running(ipc_dir: Path) -> Iterator[Running]:
    config = RouterConfig(
        endpoint=f"ipc://{ipc_dir}/svc",
        backend_endpoint=f"ipc://{ipc_dir}/svc.workers",
        lock_file=str(ipc_dir / "lock"),
        maximum_message_size_in_bytes=10_000,
        send_high_water_mark=100,
        receive_high_water_mark=100,
        heartbeat_interval_in_seconds=0.1,
        heartbeat_liveness=50,  # nobody is forgotten for silence during these tests
    )
    router = Router(config)
    router.bind()
    thread = threading.Thread(target=router.run, daemon=True)
    thread.start()
    context: zmq.Context[Any] = zmq.Context()
    context.setsockopt(zmq.LINGER, 0)
    handle = Running(router, context, config)
    yield handle
    for sock in handle.sockets:
        sock.close()
    context.term()
    router.stop()
    thread.join(5)
    router.close()


def _request(label: bytes, expires_in: float = 10.0) -> list[bytes]:
    return [request_header(time.time() + expires_in, CONTENT_TYPE), label]


def _receive(sock: zmq.Socket[Any], timeout: float = 2.0) -> list[bytes] | None:
    if sock.poll(int(timeout * 1000), zmq.POLLIN):
        frames: list[bytes] = sock.recv_multipart()
        return frames
    return None


def _serve(worker: zmq.Socket[Any]) -> bytes:
    """Take one request and answer it; return the request's envelope."""
    frames = _receive(worker)
    assert frames is not None, "no request arrived"
    client, _header, envelope = frames
    worker.send_multipart([client, response_header(CONTENT_TYPE), b"re:" + envelope])
    return envelope


def test_requests_go_to_the_worker_idle_longest(running: Running) -> None:
    a, b, c = (running.worker(name) for name in (b"A", b"B", b"C"))
    client = running.client()
    client.send_multipart(_request(b"r1"))
    assert _serve(a) == b"r1"
    assert _receive(client) == [response_header(CONTENT_TYPE), b"re:r1"]
    # A answered last, so B and C have been idle longer: least recently used first.
    client.send_multipart(_request(b"r2"))
    assert _serve(b) == b"r2"
    client.send_multipart(_request(b"r3"))
    assert _serve(c) == b"r3"
    client.send_multipart(_request(b"r4"))
    assert _serve(a) == b"r4"


def test_a_heartbeat_from_a_busy_worker_does_not_make_it_idle(running: Running) -> None:
    """The heartbeat may have crossed the request on the wire: only a response or READY frees a worker."""
    a = running.worker(b"A")
    client = running.client()
    client.send_multipart(_request(b"r1"))
    first = _receive(a)
    assert first is not None
    a.send(control_header(HEARTBEAT))
    client.send_multipart(_request(b"r2"))
    assert _receive(a, timeout=0.3) is None
    a.send_multipart([first[0], response_header(CONTENT_TYPE), b"done"])
    assert _serve(a) == b"r2"


def test_a_heartbeat_from_an_unknown_worker_registers_it(running: Running) -> None:
    """After a router restart, idle workers come back through their heartbeats."""
    d = running.worker(b"D", announce=False)
    d.send(control_header(HEARTBEAT))
    wait_until(lambda: b"D" in running.router.ready, 5, "D to be registered")
    running.client().send_multipart(_request(b"r1"))
    assert _serve(d) == b"r1"


def test_expired_requests_are_dropped_unread(running: Running) -> None:
    a = running.worker(b"A")
    client = running.client()
    client.send_multipart(_request(b"stale", expires_in=-1))
    client.send_multipart(_request(b"fresh"))
    assert _serve(a) == b"fresh"
    assert running.router.stats["expired"] == 1


def test_malformed_messages_are_counted_and_skipped(running: Running) -> None:
    a = running.worker(b"A")
    client = running.client()
    client.send(b"junk")
    client.send_multipart([b"SZ-not-a-header", b"x"])
    client.send_multipart([control_header(READY), b"x"])  # not a request
    client.send_multipart([*_request(b"extra"), b"frame"])
    a.send_multipart([b"who", b"knows", b"what"])
    client.send_multipart(_request(b"good"))
    assert _serve(a) == b"good"
    assert running.router.stats["malformed"] == 5


def test_a_leaving_worker_hands_back_what_reached_it_and_another_runs_it(running: Running) -> None:
    a = running.worker(b"A")
    client = running.client()
    client.send_multipart(_request(b"r1"))
    frames = _receive(a)
    assert frames is not None
    a.send(control_header(DISCONNECT))
    bye = _receive(a)
    assert bye is not None
    assert parse_header(bye[0]).kind == BYE
    a.send_multipart([frames[0], control_header(BOUNCE), frames[1], frames[2]])
    wait_until(lambda: bool(running.router.pending), 5, "the request to be handed back")
    b = running.worker(b"B", announce=False)
    b.send(control_header(READY))
    assert _serve(b) == b"r1"
    assert _receive(client) == [response_header(CONTENT_TYPE), b"re:r1"]
    assert b"A" not in running.router.ready
