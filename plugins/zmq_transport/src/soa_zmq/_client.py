"""The client side: one DEALER socket per calling thread, connected to the service's router.

ZeroMQ sockets must not be shared between threads, and the client's response routing expects
each thread to receive the responses to the requests *it* sent; a socket per thread gives both
for free (the router returns each response to the socket its request came from).

A thread may also hold one *lease* (see :mod:`soa_zmq._lease`): a worker that answered it offered
itself, and while the lease lasts the thread's next request goes straight to that worker (one at
a time; other concurrent requests still go through the router). A direct request the worker
refuses (its lease had ended) is resent through the router at once, within the same deadline.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import time
import weakref
from typing import Any, Final

import zmq
from zmq import zmq_poll
from zmq.utils.monitor import recv_monitor_message

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.serializer.base import Serializer
from pysoa.common.transport.base import NO_MESSAGE, ClientTransport, ReceivedMessage
from pysoa.common.transport.message import SerializerRegistry
from pysoa.errors import (
    DecodeError,
    InvalidMessageError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
    MessageTooLarge,
    TransportConnectionError,
)
from pysoa.plugins import get_plugin_manager
from soa_zmq._lease import LeaseConnection, resolve_offer
from soa_zmq._protocol import (
    LEASE_ENDED,
    LEASE_META_KEY,
    RESPONSE,
    control_header,
    parse_header,
    request_header,
    response_header,
    split_response,
)
from soa_zmq._settings import CLIENT_SETTINGS_SCHEMA, ClientOptions, client_options
from soa_zmq._sockets import (
    NOBLOCK,
    connect,
    get_context,
    open_socket,
    prepare_client_socket,
    process,
    recv_frames,
    send_frames,
    set_receive_timeout,
)

__all__ = ["ZmqClientTransport"]

_logger = logging.getLogger("soa_zmq.client")
_monitor_numbers = itertools.count()
_new_tuple = tuple.__new__  # builds a named tuple without its Python-level __new__
_LEASE_ENDED_HEADER: Final = control_header(LEASE_ENDED)
_POLLIN: Final = int(zmq.POLLIN)
# Connections to leased workers a thread keeps (a service rarely has more workers on one host).
_MAX_LEASE_CONNECTIONS: Final = 16

# A response is still expected this long after its request's expiry: a worker may have taken the
# request just in time and still be running it. Until then a call that timed out (a future) can
# wait again and get its response; after it the request is forgotten, so expectations never pile up.
_RESPONSE_GRACE_SECONDS: Final = 10.0

# Watched from a socket's creation until its first send goes through (a CURVE refusal ends the
# connection for good, so an event missed then is never repeated), and later only while a send is
# blocked, to tell *why* (no connection, refused key, full queues).
_MONITORED_EVENTS = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_CONNECT_RETRIED
    | zmq.EVENT_DISCONNECTED
)


class _ThreadState:
    """One calling thread's socket and the requests it has sent that are still owed a response."""

    __slots__ = (
        "earliest_expiry",
        "has_sent",
        "identity",
        "lease",
        "lease_connections",
        "monitor",
        "outstanding",
        "pid",
        "receive_timeout_ms",
        "socket",
        "thread",
    )

    def __init__(
        self, sock: zmq.Socket[Any], thread: threading.Thread, monitor: zmq.Socket[Any] | None, identity: bytes
    ) -> None:
        self.socket = sock
        self.identity = identity
        # The connection to the worker this thread last held a lease on, if any.
        self.lease: LeaseConnection | None = None
        # Connections to the workers that offered this thread leases, by endpoint, oldest first: a
        # lease moving between a service's workers reuses their connections (no new handshake).
        self.lease_connections: dict[str, LeaseConnection] = {}
        self.thread = thread
        # The connection events since the socket was created, until its first send goes through.
        self.monitor = monitor
        self.pid = process.pid
        # The socket's RCVTIMEO as last set (-1: libzmq's default), so an unchanged one is not set again.
        self.receive_timeout_ms = -1
        # request id -> monotonic time after which its response is no longer expected
        self.outstanding: dict[Any, float] = {}
        # No entry of ``outstanding`` expires before this, so most prunes need not look at them.
        self.earliest_expiry = math.inf
        # Once a send went through, a blocked send means full queues rather than no connection.
        self.has_sent = False

    def expect(self, request_id: Any, until: float) -> None:
        self.outstanding[request_id] = until
        if until < self.earliest_expiry:
            self.earliest_expiry = until

    def waiting(self, now: float) -> bool:
        """Whether a response is expected to a request whose expiry has not passed (a call may still wait for it)."""
        if not self.outstanding:
            return False  # a sequential caller's usual case: no generator to make
        return any(until - _RESPONSE_GRACE_SECONDS >= now for until in self.outstanding.values())

    def prune(self, now: float) -> None:
        """Stop expecting the responses whose time is up (their callers get ``NO_MESSAGE``)."""
        # Scanning on every receive would cost O(n) each, O(n²) for a parallel call of n jobs.
        if now < self.earliest_expiry:
            return
        for request_id in [request_id for request_id, until in self.outstanding.items() if until < now]:
            del self.outstanding[request_id]
        self.earliest_expiry = min(self.outstanding.values(), default=math.inf)

    def stop_monitoring(self) -> None:
        monitor, self.monitor = self.monitor, None
        if monitor is not None:
            self.socket.disable_monitor()
            monitor.close(linger=0)

    def drop_lease(self) -> None:
        """Close the current lease's connection: its worker is gone or hangs."""
        lease, self.lease = self.lease, None
        if lease is not None:
            self.lease_connections.pop(lease.endpoint, None)
            lease.close()

    def lease_connection(self, options: ClientOptions, endpoint: str) -> LeaseConnection:
        """The connection to ``endpoint``, opened if needed (closing the oldest idle one past the limit)."""
        connection = self.lease_connections.get(endpoint)
        if connection is None:
            if len(self.lease_connections) >= _MAX_LEASE_CONNECTIONS:
                for old in list(self.lease_connections.values()):
                    if old is not self.lease:
                        del self.lease_connections[old.endpoint]
                        old.close()
                        break
            connection = LeaseConnection(options, endpoint, self.identity)
            self.lease_connections[endpoint] = connection
        return connection

    def close(self) -> None:
        if self.pid == process.pid:  # else inherited through fork: the parent owns the socket
            self.stop_monitoring()
            self.lease = None
            for connection in self.lease_connections.values():
                connection.close()
            self.lease_connections.clear()
            self.socket.close(linger=0)


class _BlockedSend:
    """What the socket monitor said while a send waited: the reason to give if it times out."""

    __slots__ = ("connection_failed", "handshake_failure")

    def __init__(self) -> None:
        self.connection_failed = False
        self.handshake_failure: str | None = None


def _close_states(states: list[_ThreadState], lock: threading.Lock) -> None:
    with lock:
        for state in states:
            state.close()
        states.clear()


class ZmqClientTransport(ClientTransport):
    """Sends job requests to a service's router and receives the responses, one socket per thread."""

    name = "zmq"
    settings_schema = CLIENT_SETTINGS_SCHEMA

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None, **kwargs: Any) -> None:
        super().__init__(service_name, metrics)
        self.options: ClientOptions = client_options(kwargs)
        serializer_kwargs = dict(self.options.serializer["kwargs"])
        serializer_kwargs.setdefault("max_message_size_in_bytes", self.options.maximum_message_size_in_bytes)
        self.serializer: Serializer = self.options.serializer["object"](**serializer_kwargs)
        self._content_type = self.serializer.mime_type.encode("ascii")
        self._expected_response_header = response_header(self._content_type)
        # An unknown content type is decoded with the default serializer (the message layer's one policy).
        self._decoders = SerializerRegistry(
            self.serializer, self.options.maximum_message_size_in_bytes, get_plugin_manager().serializer_for_mime_type
        )
        self._maximum_size = self.options.maximum_message_size_in_bytes
        self._default_expiry = self.options.message_expiry_in_seconds
        self._receive_timeout = self.options.receive_timeout_in_seconds
        self._use_leases = self.options.use_leases
        self._local = threading.local()
        self._states: list[_ThreadState] = []
        self._states_lock = threading.Lock()
        # Sockets left open when the transport is dropped (the client has no close()) are closed
        # here, never by pyzmq's garbage collection, which would warn.
        self._finalizer = weakref.finalize(self, _close_states, self._states, self._states_lock)

    # --- per-thread sockets --------------------------------------------------------------------------

    def _state(self) -> _ThreadState:
        state: _ThreadState | None = getattr(self._local, "state", None)
        if state is None or state.pid != process.pid:
            state = self._new_state()
        return state

    def _new_state(self) -> _ThreadState:
        options = self.options
        context = get_context()
        sock = open_socket(context, zmq.DEALER)
        monitor: zmq.Socket[Any] | None = None
        try:
            identity = b"c" + os.urandom(15)
            prepare_client_socket(sock, options, identity)
            monitor = _start_monitor(sock)
            connect(sock, options.endpoint)
        except BaseException:
            if monitor is not None:
                monitor.close(linger=0)
            sock.close(linger=0)
            raise
        state = _ThreadState(sock, threading.current_thread(), monitor, identity)
        with self._states_lock:
            # Close the sockets of threads that have ended (their idents may be reused).
            alive = []
            for old in self._states:
                if old.thread.is_alive() and old.pid == state.pid:
                    alive.append(old)
                else:
                    old.close()
            alive.append(state)
            self._states[:] = alive
        self._local.state = state
        return state

    @property
    def requests_outstanding(self) -> int:
        """How many responses the current thread still expects (PySOA's attribute name)."""
        state: _ThreadState | None = getattr(self._local, "state", None)
        if state is None or state.pid != process.pid:
            return 0
        state.prune(time.monotonic())
        return len(state.outstanding)

    def close(self) -> None:
        """Close every thread's socket; a later call opens new ones."""
        _close_states(self._states, self._states_lock)
        self._local = threading.local()

    # --- sending ---------------------------------------------------------------------------------------

    def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        state = self._state()
        expiry = message_expiry_in_seconds if message_expiry_in_seconds else self._default_expiry
        now = time.monotonic()
        if now >= state.earliest_expiry:  # prune's own test, without its call in the usual case (once per call)
            state.prune(now)  # a thread that only sends must not accumulate expectations either
        suppressed = _suppresses_response(body)  # the server sends nothing back: expect nothing
        lease = state.lease
        if lease is not None and lease.request_id is not None and lease.request_id not in state.outstanding:
            state.drop_lease()  # its direct request never got an answer: the worker died or hangs
            lease = None
        direct = lease is not None and not suppressed and lease.usable(now, expiry)
        if (
            not direct
            and self._use_leases
            and not suppressed
            and not state.waiting(now)
            and (lease is None or lease.reachable())
        ):
            # Only a thread's lone request asks for an offer: the requests of a parallel call must
            # leave their workers idle for the others (expired ones, kept in case a late response
            # comes, do not count). Nor does a thread that could not reach the
            # last worker that offered one (its offers would only keep workers from the others).
            meta = {**meta, LEASE_META_KEY: True}
        blob = self.serializer.dict_to_blob({"request_id": request_id, "meta": meta, "body": body})
        if len(blob) > self._maximum_size:
            raise MessageTooLarge(
                len(blob),
                f"Request of {len(blob)} bytes exceeds maximum_message_size_in_bytes ({self._maximum_size})",
            )
        observer = self.message_sizes.observer
        if observer is not None:  # MessageSizes.sent's test, without its call (per message)
            observer.sent(len(blob))
        expires_at = time.time() + expiry
        frames = [request_header(expires_at, self._content_type), blob]
        # The lease is looked at again now that the request is encoded: a big body may take longer than the lease
        # had left, and a worker that is leaving stops refusing late direct requests soon after its last lease.
        if direct and lease is not None and len(blob) <= lease.maximum_size and time.monotonic() < lease.valid_until:
            try:
                send_frames(lease.socket, [*frames, lease.lease_id])
                lease.request_id = request_id
                lease.frames = frames
            except zmq.ZMQError:
                # IMMEDIATE: with its connection gone nothing was queued. The router takes it.
                state.drop_lease()
                direct = False
        else:
            direct = False  # no usable lease, or too large for the worker (the router path gets its clear refusal)
        if not direct:
            try:
                send_frames(state.socket, frames)
            except zmq.Again:
                self._send_blocking(state, frames, expiry)
            except zmq.ZMQError as exc:
                raise MessageSendError(f"Could not send to {self.service_name}: {exc}") from exc
        if not suppressed:
            state.expect(request_id, now + expiry + _RESPONSE_GRACE_SECONDS)
        if not state.has_sent:
            state.has_sent = True
            state.stop_monitoring()

    def _send_blocking(self, state: _ThreadState, frames: list[bytes], timeout: float) -> None:
        """Wait for room (or a connection) until ``timeout``; fail at once if the server refuses our key.

        After the first send went through, the socket monitor runs only here: an unread monitor
        queue would grow for as long as a connection keeps failing. Before it, the monitor started
        with the socket is read here (bounded by its high-water mark meanwhile).
        """
        sock = state.socket
        started = time.monotonic()
        deadline = started + timeout
        # Before the first send, the monitor opened with the socket has every event since.
        monitor = state.monitor
        fresh = monitor is None
        try:
            if monitor is None:
                monitor = _start_monitor(sock)
        except zmq.ZMQError as exc:
            raise MessageSendError(f"Could not send to {self.service_name}: {exc}") from exc
        try:
            poller = zmq.Poller()
            poller.register(sock, zmq.POLLOUT)
            poller.register(monitor, zmq.POLLIN)
            seen = _BlockedSend()
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.metrics.counter("client.transport.zmq.send.timeout").increment()
                    raise MessageSendTimeout(self._blocked_reason(seen, state.has_sent, time.monotonic() - started))
                events = dict(poller.poll(max(1, int(remaining * 1000))))
                if monitor in events:
                    _read_monitor(monitor, seen)
                    if seen.handshake_failure is not None:
                        raise TransportConnectionError(
                            f"Could not connect to {self.service_name} at {self.options.endpoint}: "
                            f"{seen.handshake_failure}"
                        )
                if sock in events:
                    try:
                        send_frames(sock, frames)
                        return
                    except zmq.Again:
                        continue
        except zmq.ZMQError as exc:
            raise MessageSendError(f"Could not send to {self.service_name}: {exc}") from exc
        finally:
            if fresh:
                sock.disable_monitor()
                monitor.close(linger=0)

    def _blocked_reason(self, seen: _BlockedSend, has_sent: bool, waited: float) -> str:
        where = f"Could not send to {self.service_name} at {self.options.endpoint} after {waited:.3f} s"
        full = (
            f"its queues are full (every worker is busy, and send_high_water_mark="
            f"{self.options.send_high_water_mark} requests already wait in this thread's queue)"
        )
        if seen.connection_failed:
            return f"{where}: no connection (is the service running? with CURVE, do the keys match?)"
        if has_sent:
            return f"{where}: {full}"
        return f"{where}: no connection, or {full}"

    # --- receiving -----------------------------------------------------------------------------------

    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        state: _ThreadState | None = getattr(self._local, "state", None)
        if state is None or state.pid != process.pid:
            return NO_MESSAGE
        started = time.monotonic()
        if started >= state.earliest_expiry:  # prune's own test, without its call in the usual case (once per call)
            state.prune(started)
        if not state.outstanding:
            return NO_MESSAGE
        timeout = self._receive_timeout if receive_timeout_in_seconds is None else receive_timeout_in_seconds
        deadline = started + timeout
        lease = state.lease
        if lease is not None and lease.request_id is not None:
            if lease.request_id in state.outstanding:
                return self._receive_with_lease(state, lease, started, deadline)
            state.drop_lease()  # its direct request never got an answer: the worker died or hangs
        return self._receive(state, started, deadline, started)

    def _receive(self, state: _ThreadState, started: float, deadline: float, now: float) -> ReceivedMessage:
        """The next response through the router (``now``: the monotonic time, just read)."""
        while True:
            frames = self._next_frames(state, started, deadline, now)
            if not self._too_large(frames):
                return self._decode(state, frames)
            now = time.monotonic()

    def _receive_with_lease(
        self, state: _ThreadState, lease: LeaseConnection, started: float, deadline: float
    ) -> ReceivedMessage:
        """The next response while a direct request is in flight: from the worker, or through the router."""
        direct = lease.socket
        now = started
        while True:
            if len(state.outstanding) == 1:
                # Only the direct request is expected: nothing can come through the router for it.
                frames, source = self._next_frames(lease, started, deadline, now), direct
            else:
                frames, source = self._poll_frames(state.socket, direct, started, deadline)
            if source is direct:
                if len(frames) == 1:
                    if frames[0] == _LEASE_ENDED_HEADER:
                        self._resend_refused(state, lease, deadline)
                        return self._receive(state, started, deadline, time.monotonic())
                    now = time.monotonic()
                    continue
                now = time.monotonic()
                lease.answered(now)
                if self._too_large(frames):
                    return self._receive(state, started, deadline, now)
            elif self._too_large(frames):
                now = time.monotonic()
                continue
            return self._decode(state, frames)

    def _resend_refused(self, state: _ThreadState, lease: LeaseConnection, deadline: float) -> None:
        """The worker's lease had ended and the request did not run: send it through the router now."""
        frames = lease.frames
        lease.lapse()
        self.metrics.counter("client.transport.zmq.lease_refused").increment()
        try:
            send_frames(state.socket, frames)
        except zmq.Again:
            self._send_blocking(state, frames, max(0.0, deadline - time.monotonic()))
        except zmq.ZMQError as exc:
            raise MessageSendError(f"Could not send to {self.service_name}: {exc}") from exc

    def _next_frames(
        self, owner: _ThreadState | LeaseConnection, started: float, deadline: float, now: float
    ) -> list[bytes]:
        """The next message on ``owner``'s socket by ``deadline`` (``now``: the monotonic time, just read)."""
        sock = owner.socket
        while True:
            # One blocking receive bounded by RCVTIMEO: no poller, and no zmq.Again raised when the
            # response is not there yet (both cost more per call than the receive itself). A call's
            # timeout is usually the same as the last one's: then the option is already right.
            milliseconds = math.ceil((deadline - now) * 1000) if deadline > now else 0  # not max(): once per call
            if milliseconds != owner.receive_timeout_ms:
                set_receive_timeout(sock, milliseconds)
                owner.receive_timeout_ms = milliseconds
            try:
                return recv_frames(sock)
            except zmq.Again:
                now = time.monotonic()
                if now < deadline:
                    continue  # libzmq counts whole milliseconds of its own clock: never give up early
                raise self._timed_out(started) from None
            except zmq.ZMQError as exc:
                raise MessageReceiveError(f"Could not receive from {self.service_name}: {exc}") from exc

    def _poll_frames(
        self, first: zmq.Socket[Any], second: zmq.Socket[Any], started: float, deadline: float
    ) -> tuple[list[bytes], zmq.Socket[Any]]:
        items: list[tuple[Any, int]] = [(first, _POLLIN), (second, _POLLIN)]
        while True:
            try:
                events = zmq_poll(items, max(0, math.ceil((deadline - time.monotonic()) * 1000)))
                for polled, _event in events:
                    try:
                        return recv_frames(polled, NOBLOCK), polled
                    except zmq.Again:
                        continue
            except zmq.ZMQError as exc:
                raise MessageReceiveError(f"Could not receive from {self.service_name}: {exc}") from exc
            if not events and time.monotonic() >= deadline:
                raise self._timed_out(started)

    def _timed_out(self, started: float) -> MessageReceiveTimeout:
        # The requests stay expected (until their expiry and grace): a later receive may get them.
        return MessageReceiveTimeout(
            f"nothing arrived from {self.service_name!r} at {self.options.endpoint} "
            f"after {time.monotonic() - started:.3f} s"
        )

    def _too_large(self, frames: list[bytes]) -> bool:
        if len(frames) == 2 and len(frames[1]) > self._maximum_size:
            # Nobody can tell whose it is without decoding it: drop it; its caller times out.
            self.metrics.counter("client.transport.zmq.response_too_large").increment()
            _logger.error(
                "Dropped a response of %s bytes from %s: larger than maximum_message_size_in_bytes (%s)",
                len(frames[1]),
                self.service_name,
                self._maximum_size,
            )
            return True
        return False

    def _decode(self, state: _ThreadState, frames: list[bytes]) -> ReceivedMessage:
        if len(frames) != 2:
            raise InvalidMessageError(f"Response from {self.service_name} has {len(frames)} frames, not 2")
        header, blob = frames
        if header == self._expected_response_header:
            serializer = self.serializer
        else:
            parsed = parse_header(header)
            if parsed.kind != RESPONSE:
                raise InvalidMessageError(f"Unexpected message kind {parsed.kind} from {self.service_name}")
            serializer = self._decoders.serializer_for(parsed.content_type)
        try:
            message = serializer.blob_to_dict(blob)
        except DecodeError as exc:
            raise InvalidMessageError(f"Undecodable response from {self.service_name}: {exc}") from exc
        observer = self.message_sizes.observer
        if observer is not None:  # MessageSizes.received's test, without its call (per message)
            observer.received(len(blob))
        request_id, meta, body = split_response(message)
        state.outstanding.pop(request_id, None)
        offer = meta.pop(LEASE_META_KEY, None)
        if offer is not None and self._use_leases:
            self._take_offer(state, offer)
        # One per message: the tuple is built without the named tuple's Python-level __new__.
        return _new_tuple(ReceivedMessage, (request_id, meta, body))

    def _take_offer(self, state: _ThreadState, offer: Any) -> None:
        """A worker leased itself to this thread: ``[lease_id, announced endpoint, hold, lifetime, size limit]``."""
        if not (
            isinstance(offer, (list, tuple))
            and len(offer) == 5
            and isinstance(offer[0], int)
            and isinstance(offer[1], str)
            and isinstance(offer[2], (int, float))
            and isinstance(offer[3], (int, float))
            and isinstance(offer[4], int)
        ):
            return
        endpoint = resolve_offer(offer[1], self.options.endpoint)
        if endpoint is None:
            return
        lease = state.lease
        if lease is None or lease.endpoint != endpoint:
            if lease is not None:
                if lease.request_id is not None:
                    return  # its direct request is still out: this offer lapses at the worker
                lease.lapse()
            try:
                lease = state.lease = state.lease_connection(self.options, endpoint)
            except (zmq.ZMQError, TransportConnectionError) as exc:
                state.lease = None
                _logger.debug("Could not connect to a leased worker at %s: %s", endpoint, exc)
                return
        lease.renew(offer[0], float(offer[2]), float(offer[3]), time.monotonic())
        lease.maximum_size = offer[4]


def _suppresses_response(body: dict[str, Any]) -> bool:
    control = body.get("control")
    return isinstance(control, dict) and bool(control.get("suppress_response"))


def _start_monitor(sock: zmq.Socket[Any]) -> zmq.Socket[Any]:
    """Start reporting ``sock``'s connection events; returns the socket to read them from."""
    # A fresh address each time: libzmq releases a previous monitor's endpoint asynchronously.
    address = f"inproc://soa-zmq-monitor-{os.getpid()}-{id(sock):x}-{next(_monitor_numbers)}"
    sock.monitor(address, _MONITORED_EVENTS)
    monitor: zmq.Socket[Any] = get_context().socket(zmq.PAIR)
    try:
        monitor.connect(address)
    except BaseException:
        sock.disable_monitor()
        monitor.close(linger=0)
        raise
    return monitor


def _read_monitor(monitor: zmq.Socket[Any], seen: _BlockedSend) -> None:
    while True:
        try:
            event = recv_monitor_message(monitor, zmq.NOBLOCK)
        except zmq.Again:
            return
        kind = event["event"]
        if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            seen.handshake_failure = (
                f"the service refused this client's CURVE key (ZAP status {event['value']}); "
                "add its curve_public_key to the server's curve_client_public_keys"
            )
        elif kind in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL):
            seen.handshake_failure = (
                "the security handshake failed (do both sides use CURVE, and is curve_server_public_key right?)"
            )
        elif kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            seen.connection_failed = False
        else:  # a refused or dropped connection
            seen.connection_failed = True
