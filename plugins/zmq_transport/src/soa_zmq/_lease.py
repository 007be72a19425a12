"""Worker leases: the direct socket a sync worker binds, and the one a client connects to it.

A worker behind the router that answers a client's routed request may lease itself to that
client: the client's next request then goes straight to the worker's *direct* ROUTER socket and
skips both router hops. The worker stays the arbiter: it serves a direct request only from its
lessee, under the current lease id; anything else is refused with LEASE_ENDED (the request never
ran, and the client resends it through the router). See the protocol notes in :mod:`._protocol`.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import time
from typing import Any, Final

import zmq
from zmq.utils.monitor import recv_monitor_message

from soa_zmq._endpoint import ClientFacingEndpoint
from soa_zmq._settings import ClientOptions, ServerOptions
from soa_zmq._sockets import get_context, open_socket, prepare_client_socket

__all__ = ["DirectEndpoint", "LeaseConnection", "direct_bind_address", "resolve_offer"]

_logger = logging.getLogger("soa_zmq.lease")
_monitor_numbers = itertools.count()
# The longest ipc:// path Linux accepts (see _settings).
_MAX_IPC_PATH: Final = 107
# The longest the first call after an offer waits for the connection's handshake (over loopback it
# takes a fraction of a millisecond; with CURVE about a millisecond). Past it, calls use the router.
_HANDSHAKE_WAIT_SECONDS: Final = 0.05
_HANDSHAKE_EVENTS: Final = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


def direct_bind_address(options: ServerOptions) -> str | None:
    """Where a worker binds its direct socket, or ``None`` when no client could be told how to reach it.

    An ipc service: a socket file beside the service's own. A tcp service: an ephemeral port on
    the interface the service endpoint names; the worker announces only the port and the client
    uses the host it reached the router on. That holds only when the worker runs on the router's
    host, which an ipc ``backend_endpoint`` guarantees; a worker on a tcp backend offers no leases.
    """
    if not options.backend_endpoint.startswith("ipc://"):
        return None
    scheme, _, address = options.endpoint.partition("://")
    if scheme == "ipc":
        path = f"{address}.direct-{os.getpid()}-{os.urandom(3).hex()}"
        return None if len(path.encode()) > _MAX_IPC_PATH else f"ipc://{path}"
    host = address.rpartition(":")[0]
    return f"tcp://{host}:*"


def resolve_offer(announced: str, client_endpoint: str) -> str | None:
    """The endpoint a client connects to for an offer's announced one, or ``None`` if it cannot be used."""
    scheme = client_endpoint.partition("://")[0]
    if scheme == "ipc":
        return announced if announced.startswith("ipc://") else None
    prefix = "tcp://*:"
    port = announced[len(prefix) :]
    if not announced.startswith(prefix) or not port.isdigit():
        return None
    host = client_endpoint.partition("://")[2].rpartition(":")[0]
    return f"tcp://{host}:{port}"


class DirectEndpoint(ClientFacingEndpoint):
    """A worker's bound direct socket, and the endpoint its lease offers name."""

    def __init__(self, options: ServerOptions, address: str) -> None:
        super().__init__(options, address)
        try:
            bound = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        except BaseException:
            self.close()
            raise
        # What offers name: a tcp client connects to the host it reached the router on.
        self.announced = "tcp://*:" + bound.rpartition(":")[2] if bound.startswith("tcp://") else bound


class LeaseConnection:
    """A client thread's DEALER socket to one worker's direct endpoint, and the lease it holds there.

    Used only once its handshake completed (watched with a socket monitor until then), and with
    IMMEDIATE set: a direct request never waits in a queue for a worker that cannot be reached.
    """

    __slots__ = (
        "endpoint",
        "ends_at",
        "frames",
        "hold",
        "lease_id",
        "maximum_size",
        "monitor",
        "ready",
        "receive_timeout_ms",
        "request_id",
        "socket",
        "valid_until",
        "waited",
    )

    def __init__(self, options: ClientOptions, endpoint: str, identity: bytes) -> None:
        self.endpoint = endpoint
        self.ready = False
        # Whether a call already waited for the handshake (only the first one does).
        self.waited = False
        self.lease_id = b""
        self.hold = 0.0
        self.ends_at = 0.0
        # The worker's message size limit: a larger request goes through the router.
        self.maximum_size = 0
        # monotonic time until which this client counts the lease as held (see ``renew``)
        self.valid_until = 0.0
        # The direct request in flight (at most one) and its frames, to resend if it is refused.
        self.request_id: Any = None
        self.frames: list[bytes] = []
        self.monitor: zmq.Socket[Any] | None = None
        # The socket's RCVTIMEO as last set (-1: libzmq's default); see the client's receive.
        self.receive_timeout_ms = -1
        context = get_context()
        self.socket = open_socket(context, zmq.DEALER)
        try:
            # The worker knows its lessee by the identity its routed request came with.
            prepare_client_socket(self.socket, options, identity)
            address = f"inproc://soa-zmq-lease-monitor-{os.getpid()}-{id(self):x}-{next(_monitor_numbers)}"
            self.socket.monitor(address, _HANDSHAKE_EVENTS)
            self.monitor = context.socket(zmq.PAIR)
            self.monitor.connect(address)
            self.socket.connect(endpoint)
        except BaseException:
            self.close()
            raise

    def renew(self, lease_id: int, hold: float, lifetime: float, now: float) -> None:
        """Take the lease.

        The worker's clocks started before the response reached this side, so by this side's
        count the lease never ends before the worker ended it. A request sent near the end may
        find it ended: refused, it goes through the router at the cost of one round trip. Ending
        it earlier here would be worse: a routed request that finds this thread's own worker still
        leased, and no other idle, makes the router revoke the lease.
        """
        self.lease_id = lease_id.to_bytes(8, "big")
        self.hold = hold
        self.ends_at = now + lifetime
        self.valid_until = min(now + hold, self.ends_at)

    def answered(self, now: float) -> None:
        """The direct request got its response: the worker holds the lease for another hold time."""
        self.request_id = None
        self.frames = []
        self.valid_until = min(now + self.hold, self.ends_at)

    def lapse(self) -> None:
        """The worker ended the lease; the connection stays for its next offer."""
        self.request_id = None
        self.frames = []
        self.valid_until = 0.0

    def usable(self, now: float, time_left: float) -> bool:
        """Free (nothing in flight), held, and connected (its handshake completed).

        The first call after the offer may wait briefly for the handshake (never longer than the
        call's ``time_left``): it usually completes within a fraction of a millisecond, and a routed
        request meanwhile would make the router take the lease back (when no other worker is idle).
        Later calls only look.
        """
        if self.request_id is not None or now >= self.valid_until:
            return False
        if not self.ready:
            wait = 0.0 if self.waited else min(self.valid_until - now, _HANDSHAKE_WAIT_SECONDS, time_left)
            self.waited = True
            self._read_monitor(wait)
        return self.ready

    def reachable(self) -> bool:
        """Whether this connection completed its handshake, or may still (no call waited for it in vain)."""
        if not self.ready and self.waited:
            self._read_monitor(0.0)
            return self.ready
        return True

    def _read_monitor(self, wait: float) -> None:
        monitor = self.monitor
        if monitor is None:
            return
        deadline = time.monotonic() + wait
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not monitor.poll(math.ceil(remaining * 1000), zmq.POLLIN):
                    return
                continue
            if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.ready = True
                self._stop_monitor()
                return
            # A refused CURVE key or a failed handshake: never ready (calls keep using the router).
            _logger.debug("Lease connection to %s failed its handshake (event %s)", self.endpoint, event["event"])
            return

    def _stop_monitor(self) -> None:
        monitor, self.monitor = self.monitor, None
        if monitor is not None:
            self.socket.disable_monitor()
            monitor.close(linger=0)

    def close(self) -> None:
        self._stop_monitor()
        socket_ = getattr(self, "socket", None)
        if socket_ is not None:
            socket_.close(linger=0)
