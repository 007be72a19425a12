"""A connection lost mid-command: never a duplicated message, never a silent retry.

A small TCP proxy sits between the transport and Redis and, once armed, forwards one command to
Redis (which executes it) and then drops the connection before the reply gets back. redis-py's
default retries would reconnect and send the command again.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pysoa.errors import MessageReceiveError, MessageSendError
from soa_redis.client import RedisClientTransport

from .helpers import job
from .servers import HOST, RedisProcess

pytestmark = pytest.mark.redis


class CuttingProxy:
    """Forwards loopback TCP to Redis; ``arm(marker)`` drops the next connection that sends ``marker``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server((HOST, 0))
        self.port: int = self.listener.getsockname()[1]
        self.marker: bytes | None = None
        self.cut_delay = 0.0
        self.cuts = 0
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, marker: bytes, delay: float = 0.1) -> None:
        self.marker, self.cut_delay = marker, delay

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((HOST, self.upstream_port))
            self._sockets += [downstream, upstream]
            cutting = threading.Event()  # set: replies from Redis are no longer passed on
            threading.Thread(target=self._pump, args=(downstream, upstream, cutting, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, downstream, cutting, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, cutting: threading.Event, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if not from_client:
                    if cutting.is_set():
                        return
                    target.sendall(data)
                    continue
                if self.marker is not None and self.marker in data:
                    self.marker = None
                    cutting.set()
                    target.sendall(data)
                    time.sleep(self.cut_delay)  # Redis executes the command meanwhile; its reply is held back
                    self.cuts += 1
                    for sock in (source, target):
                        sock.shutdown(socket.SHUT_RDWR)
                    return
                target.sendall(data)
        except OSError:
            return

    def close(self) -> None:
        self.listener.close()
        for sock in self._sockets:
            sock.close()


@pytest.fixture
def proxy(redis_server: RedisProcess) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(redis_server.port)
    yield proxy
    proxy.close()


def test_a_send_cut_after_redis_ran_it_is_not_sent_twice(redis_server: RedisProcess, proxy: CuttingProxy) -> None:
    client = RedisClientTransport("svc", url=f"redis://{HOST}:{proxy.port}/0")
    client.send_request_message(1, {}, job())  # opens the connection
    proxy.arm(b"RPUSH")  # a one-frame message is pushed with RPUSH + EXPIRE in one round trip
    with pytest.raises(MessageSendError):
        client.send_request_message(2, {}, job())
    assert proxy.cuts == 1
    assert redis_server.client().llen("pysoa:service.svc") == 2  # request 1 and request 2, once
    client.send_request_message(3, {}, job())  # the transport recovers on a new connection
    assert redis_server.client().llen("pysoa:service.svc") == 3


def test_a_blocking_read_cut_midway_is_reported_not_retried(redis_server: RedisProcess, proxy: CuttingProxy) -> None:
    client = RedisClientTransport("svc", url=f"redis://{HOST}:{proxy.port}/0")
    # The first wait for the reply is written behind the push and lasts the request's 0.3 s; the receive's
    # next BLPOP, a command of its own, is the one cut.
    client.send_request_message(1, {}, job(), 0.3)
    proxy.arm(b"BLPOP", delay=0.2)
    started = time.monotonic()
    with pytest.raises(MessageReceiveError):
        client.receive_response_message(3)
    # Reported when the connection dropped, not after a silent retry waited out the 3 s.
    assert time.monotonic() - started < 2.0
    assert proxy.cuts == 1


def test_a_push_cut_with_its_pending_pop_is_one_send_error_and_no_duplicate(
    redis_server: RedisProcess, proxy: CuttingProxy
) -> None:
    client = RedisClientTransport("svc", url=f"redis://{HOST}:{proxy.port}/0")
    proxy.arm(b"BLPOP", delay=0.2)  # the write carrying RPUSH, EXPIRE and the BLPOP behind them
    with pytest.raises(MessageSendError):
        client.send_request_message(1, {}, job())
    assert proxy.cuts == 1
    assert redis_server.client().llen("pysoa:service.svc") == 1  # Redis ran it once; nothing was retried
    assert client.receive_response_message(3).request_id is None  # a failed send leaves nothing to wait for
    client.send_request_message(2, {}, job())  # a new connection
    assert redis_server.client().llen("pysoa:service.svc") == 2
