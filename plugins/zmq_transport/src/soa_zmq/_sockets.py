"""The process's ZeroMQ context and the socket options every side shares."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

import zmq

from pysoa.errors import ConfigurationError, TransportConnectionError
from soa_zmq._settings import ClientOptions

__all__ = [
    "NOBLOCK",
    "apply_common_options",
    "bind",
    "connect",
    "get_context",
    "open_socket",
    "prepare_client_socket",
    "process",
    "recv_frames",
    "remove_ipc_file",
    "send_frames",
    "set_receive_timeout",
]


class _Process:
    """This process's id, kept current across forks: one attribute read instead of a getpid() system call.

    Sockets and their per-thread state must never be used in a forked child; the transports compare
    the pid they were made in with this one on every send and receive.
    """

    __slots__ = ("pid",)

    def __init__(self) -> None:
        self.pid = os.getpid()

    def refresh(self) -> None:
        self.pid = os.getpid()


process: Final = _Process()
os.register_at_fork(after_in_child=process.refresh)

_context: zmq.Context[Any] | None = None
_context_pid = 0
_context_lock = threading.Lock()


def get_context() -> zmq.Context[Any]:
    """This process's context, made anew in a forked child (a context must never cross a fork)."""
    global _context, _context_pid
    pid = os.getpid()
    if _context is None or _context_pid != pid:
        with _context_lock:
            if _context is None or _context_pid != pid:
                _context = zmq.Context(io_threads=1)
                _context_pid = pid
    return _context


def apply_common_options(
    sock: zmq.Socket[Any],
    *,
    maximum_message_size_in_bytes: int | None,
    send_high_water_mark: int,
    receive_high_water_mark: int,
    heartbeat_interval_in_seconds: float,
    heartbeat_timeout_in_seconds: float,
    linger_ms: int,
    zmtp_heartbeats: bool,
) -> None:
    """Options for every socket: size limit on receipt, queue bounds, liveness checks, linger.

    MAXMSGSIZE makes libzmq drop the *connection* of a peer that sends a larger frame, before
    the frame reaches the application: the peer's message is lost, nothing crashes. Give it only
    for *bound* sockets: there the peer that broke the limit reconnects by itself, whereas a
    connecting socket that sees the limit broken treats it as a protocol error and never
    reconnects. Connecting sockets check sizes after receipt instead (their peer is the router,
    which forwards nothing larger than its own limit).

    ZMTP heartbeats (answered by libzmq's I/O thread, so a busy Python worker still answers them)
    close connections to peers that vanished without a FIN. They are for router-worker links
    only: an engine whose receive queue is full stops reading, PINGs included, so on a client
    link that the router deliberately stops reading (every worker busy) they would tear down
    healthy connections and lose their queued requests. TCP keepalive, answered by the kernel,
    covers vanished hosts there.
    """
    sock.setsockopt(zmq.LINGER, linger_ms)
    if maximum_message_size_in_bytes is not None:
        sock.setsockopt(zmq.MAXMSGSIZE, maximum_message_size_in_bytes)
    sock.setsockopt(zmq.SNDHWM, send_high_water_mark)
    sock.setsockopt(zmq.RCVHWM, receive_high_water_mark)
    if zmtp_heartbeats:
        sock.setsockopt(zmq.HEARTBEAT_IVL, max(1, int(heartbeat_interval_in_seconds * 1000)))
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, max(1, int(heartbeat_timeout_in_seconds * 1000)))
    else:
        seconds = max(1, round(heartbeat_interval_in_seconds))
        sock.setsockopt(zmq.TCP_KEEPALIVE, 1)
        sock.setsockopt(zmq.TCP_KEEPALIVE_IDLE, seconds)
        sock.setsockopt(zmq.TCP_KEEPALIVE_INTVL, seconds)
        sock.setsockopt(zmq.TCP_KEEPALIVE_CNT, max(1, round(heartbeat_timeout_in_seconds / seconds)))


def prepare_client_socket(sock: zmq.Socket[Any], options: ClientOptions, identity: bytes) -> None:
    """A client's DEALER socket, to the router or to a worker it leases, before it connects.

    - The common options, without a size limit (a connecting socket checks sizes on receipt: see
      :func:`apply_common_options`) and without linger (a request nobody will wait for is not
      worth delaying exit).
    - A fixed identity: the router (or the leasing worker) lets a reconnecting socket take over
      its old one, so a response still finds it, and a leasing worker knows its lessee by it.
    - IMMEDIATE: a request is queued only on a connection that completed its handshake. With no
      peer (or a refused CURVE key) a send then blocks and fails at its deadline, instead of
      waiting in a queue for a connection that may never come.
    - The CURVE client keys, when the service uses CURVE.
    """
    apply_common_options(
        sock,
        maximum_message_size_in_bytes=None,
        send_high_water_mark=options.send_high_water_mark,
        receive_high_water_mark=options.receive_high_water_mark,
        heartbeat_interval_in_seconds=options.heartbeat_interval_in_seconds,
        heartbeat_timeout_in_seconds=options.heartbeat_timeout_in_seconds,
        linger_ms=0,
        zmtp_heartbeats=False,
    )
    sock.setsockopt(zmq.IDENTITY, identity)
    sock.setsockopt(zmq.IMMEDIATE, 1)
    if options.curve is not None:
        sock.setsockopt(zmq.CURVE_SERVERKEY, options.curve.server_public_key)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, options.curve.public_key)
        sock.setsockopt(zmq.CURVE_SECRETKEY, options.curve.secret_key)


def remove_ipc_file(endpoint: str) -> None:
    """Remove the socket file of an ipc endpoint this process bound and has closed (libzmq leaves it)."""
    scheme, _, path = endpoint.partition("://")
    if scheme == "ipc" and path and not path.startswith("@"):
        try:
            os.unlink(path)
        except OSError:
            pass


def open_socket(context: zmq.Context[Any], socket_type: int) -> zmq.Socket[Any]:
    try:
        sock: zmq.Socket[Any] = context.socket(socket_type)
        return sock
    except zmq.ZMQError as exc:
        raise TransportConnectionError(f"Could not create a ZeroMQ socket: {exc}") from exc


def bind(sock: zmq.Socket[Any], endpoint: str) -> None:
    """Bind, turning libzmq's terse errors into one that names the endpoint."""
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        raise ConfigurationError(f"Cannot bind {endpoint}: {exc}") from exc


def connect(sock: zmq.Socket[Any], endpoint: str) -> None:
    try:
        sock.connect(endpoint)
    except zmq.ZMQError as exc:
        raise ConfigurationError(f"Cannot connect to {endpoint}: {exc}") from exc


# Plain ints: pyzmq's flag constants are enum members, and combining them runs Python code per frame.
NOBLOCK: Final = int(zmq.NOBLOCK)
_SNDMORE: Final = int(zmq.SNDMORE)
_RCVTIMEO: Final = int(zmq.RCVTIMEO)

# pyzmq's compiled socket methods, called unbound. ``zmq.Socket.send`` is a Python wrapper (for the
# draft routing_id and group arguments) around the compiled one, and every attribute lookup on a
# ``zmq.Socket`` goes through its ``__getattr__`` hook: per frame, both cost more than the send itself.
# Only for blocking (``zmq.Socket``) sockets: the asyncio sockets' own send and recv are not these.
_base_send: Final[Callable[..., Any]] = zmq.backend.Socket.send
_base_recv: Final[Callable[..., Any]] = zmq.backend.Socket.recv
_base_set: Final[Callable[..., Any]] = zmq.backend.Socket.set


def send_frames(sock: zmq.Socket[Any], frames: Sequence[bytes], flags: int = NOBLOCK) -> None:
    """``sock.send_multipart(frames, flags)`` for ``bytes`` frames, at a fraction of its per-frame cost.

    A multipart message is atomic: only its first frame can meet a full queue (``zmq.Again``), so a
    failure never leaves a partial message behind.
    """
    more = flags | _SNDMORE
    for frame in frames[:-1]:
        _base_send(sock, frame, more)
    _base_send(sock, frames[-1], flags)


def recv_frames(sock: zmq.Socket[Any], flags: int = 0) -> list[bytes]:
    """``sock.recv_multipart(flags)``, cheaper: the later frames of a message are there with its first.

    Each frame is received as a ``zmq.Frame`` for its ``more`` flag: a socket's RCVMORE option costs
    more to read (pyzmq looks every option up in an enum) than the ``bytes`` copy the frame then makes.
    """
    frame = _base_recv(sock, flags, False)
    frames: list[bytes] = [frame.bytes]
    while frame.more:
        frame = _base_recv(sock, NOBLOCK, False)
        frames.append(frame.bytes)
    return frames


def set_receive_timeout(sock: zmq.Socket[Any], milliseconds: int) -> None:
    """``sock.setsockopt(zmq.RCVTIMEO, milliseconds)`` without the Python wrapper around it."""
    _base_set(sock, _RCVTIMEO, milliseconds)
