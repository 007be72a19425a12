"""The server (worker) side: a DEALER socket connected to the service router's backend.

A worker handles one request at a time, so it gets one from the router only when it said it was
idle: by READY when it starts, by each response, by READY after a request that got no response
(``suppress_response``, a dropped malformed or expired request), and by HEARTBEAT every
``heartbeat_interval_in_seconds`` while it waits. With ``role: auto`` (the default) a worker that
finds no router running starts one (see :mod:`soa_zmq.router`). With ``role: standalone`` the one
worker binds the service endpoint itself (a ROUTER socket) and no router is involved; requests
and responses have the same frames either way.

A worker behind a router (``lease_hold_time_in_seconds`` set, the default) also binds a direct
socket and, when a client asks, leases itself to the client it just answered: the client's next
requests come straight to it (see :mod:`soa_zmq._lease`). While leased it serves only its lessee
and tells the router so (LEASED, also as its heartbeat); it ends the lease (READY) when the lessee
leaves it unused for the hold time, after at most one heartbeat interval (its READY is then the
heartbeat, and the router's least-recently-used rotation resumes), when the router revokes it,
when a routed request arrives anyway, or when it leaves. A direct request that comes after the lease ended is refused
(LEASE_ENDED) without running, so that its client resends it through the router.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import zmq
from zmq import zmq_poll

from pysoa.common.log_limit import RateLimitedLogger
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.serializer.base import Serializer
from pysoa.common.transport.base import ReceivedMessage, ServerTransport
from pysoa.common.transport.message import SerializerRegistry
from pysoa.errors import (
    ConfigurationError,
    DecodeError,
    InvalidMessageError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
    MessageTooLarge,
    RequestTooLarge,
    TransportConnectionError,
)
from pysoa.plugins import get_plugin_manager
from soa_zmq._election import RouterLock, router_is_running
from soa_zmq._endpoint import ClientFacingEndpoint
from soa_zmq._lease import DirectEndpoint, direct_bind_address
from soa_zmq._protocol import (
    BOUNCE,
    BYE,
    CONTENT_TYPE_META_KEY,
    DISCONNECT,
    FIXED_SIZE,
    HEARTBEAT,
    LEASE_ENDED,
    LEASE_META_KEY,
    LEASED,
    LEASES,
    MAGIC,
    READY,
    REPLY_TO_META_KEY,
    REQUEST,
    REVOKE,
    VERSION,
    control_header,
    expires_at_of,
    parse_header,
    response_header,
    split_request,
    wire_meta,
)
from soa_zmq._settings import SERVER_SETTINGS_SCHEMA, ServerOptions, server_options
from soa_zmq._sockets import (
    NOBLOCK,
    apply_common_options,
    connect,
    get_context,
    open_socket,
    process,
    recv_frames,
    send_frames,
    set_receive_timeout,
)
from soa_zmq.router import spawn_router, stop_router

_new_tuple = tuple.__new__  # builds a named tuple without its Python-level __new__

__all__ = ["ZmqServerTransport"]

_logger = logging.getLogger("soa_zmq.server")
# Requests dropped before decoding: counted, and logged without letting a flood flood the log.
_dropped_log = RateLimitedLogger(_logger)

_READY = control_header(READY)
_HEARTBEAT = control_header(HEARTBEAT)
_DISCONNECT = control_header(DISCONNECT)
_BOUNCE = control_header(BOUNCE)
_LEASED = control_header(LEASED)
_LEASES = control_header(LEASES)
_LEASE_ENDED = control_header(LEASE_ENDED)
_POLLIN = int(zmq.POLLIN)
# A leaving worker refuses direct requests this long past the end of its last lease's hold time
# (a lessee may have sent one just in time; it must be refused, never lost with the socket).
_REFUSAL_MARGIN_SECONDS = 0.05
# The first four bytes of a well-formed request header (magic, version, kind).
_REQUEST_PREFIX = MAGIC + bytes((VERSION, REQUEST))
# How long a leaving worker waits for the router's BYE, handing back requests meanwhile.
_MAX_GOODBYE_SECONDS = 2.0


class ZmqServerTransport(ServerTransport):
    """Receives job requests from the service's router and sends the responses back through it."""

    name = "zmq"
    settings_schema = SERVER_SETTINGS_SCHEMA

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder | None = None,
        instance_index: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(service_name, metrics, instance_index)
        self.options: ServerOptions = server_options(kwargs)
        serializer_kwargs = dict(self.options.serializer["kwargs"])
        serializer_kwargs.setdefault("max_message_size_in_bytes", self.options.maximum_message_size_in_bytes)
        self.serializer: Serializer = self.options.serializer["object"](**serializer_kwargs)
        # An unknown content type is decoded with the default serializer (the message layer's one policy).
        self._serializers = SerializerRegistry(
            self.serializer, self.options.maximum_message_size_in_bytes, get_plugin_manager().serializer_for_mime_type
        )
        # A response's content type -> the serializer that encodes it and its header frame: one lookup per response.
        self._responders: dict[str, tuple[Serializer, bytes]] = {}
        # A request header's content type (its bytes after the fixed part) -> the serializer it names.
        self._request_serializers: dict[bytes, Serializer] = {}
        self._maximum_size = self.options.maximum_message_size_in_bytes
        self._interval = self.options.heartbeat_interval_in_seconds
        # Connected lazily, in the process that serves (a server may be built before a fork).
        self._socket: zmq.Socket[Any] | None = None
        self._pid = 0
        # The socket's RCVTIMEO as last set (-1: none yet), so an unchanged one is not set again.
        self._receive_timeout_ms = -1
        self._routed = self.options.role != "standalone"
        self._standalone: _StandaloneEndpoint | None = None
        self._owe_ready = False
        self._next_heartbeat = 0.0
        self._router_start_failed = False
        # Leases (see the module notes): only behind a router, and only once it said LEASES.
        self._hold = self.options.lease_hold_time_in_seconds if self._routed else None
        self._direct: DirectEndpoint | None = None
        self._leases_allowed = False
        self._lessee: bytes | None = None  # the client this worker is leased to
        self._lease_id = int.from_bytes(os.urandom(4), "big")
        self._lease_id_frame = b""
        self._lease_until = 0.0  # monotonic: the lease ends unless its lessee uses it before then
        self._refuse_until = 0.0  # monotonic: a lessee may send direct requests until about then
        self._offered = False  # whether a client was ever told of the direct socket (in this process)
        self._no_offers_until = 0.0
        # The client of the request being served when it asked for a lease offer (routed requests only).
        self._wants_lease: bytes | None = None
        self._serving_direct = False

    # --- connection --------------------------------------------------------------------------------

    def _connected(self) -> zmq.Socket[Any]:
        sock = self._socket
        if sock is not None and self._pid == process.pid:
            return sock
        options = self.options
        if not self._routed:
            self._standalone = _StandaloneEndpoint(self.service_name, options)
            self._socket = self._standalone.socket
            self._pid = os.getpid()
            self._receive_timeout_ms = -1
            return self._socket
        if options.role == "auto":
            self._ensure_router(first=True)
        sock = open_socket(get_context(), zmq.DEALER)
        try:
            apply_common_options(
                sock,
                maximum_message_size_in_bytes=None,  # checked on receipt: see apply_common_options
                send_high_water_mark=options.send_high_water_mark,
                receive_high_water_mark=options.receive_high_water_mark,
                heartbeat_interval_in_seconds=options.heartbeat_interval_in_seconds,
                heartbeat_timeout_in_seconds=options.heartbeat_timeout_in_seconds,
                linger_ms=1000,  # let the last response and the goodbye leave at shutdown
                zmtp_heartbeats=True,
            )
            identity = f"{socket.gethostname()}/{os.getpid()}/{self.instance_index}/{os.urandom(3).hex()}"
            sock.setsockopt(zmq.IDENTITY, identity.encode())
            if options.curve is not None:
                # Workers prove they belong to the service with the service's own key pair.
                sock.setsockopt(zmq.CURVE_SERVERKEY, options.curve.public_key)
                sock.setsockopt(zmq.CURVE_PUBLICKEY, options.curve.public_key)
                sock.setsockopt(zmq.CURVE_SECRETKEY, options.curve.secret_key)
            connect(sock, options.backend_endpoint)
        except BaseException:
            sock.close(linger=0)
            raise
        self._socket = sock
        self._pid = os.getpid()
        self._receive_timeout_ms = -1
        self._owe_ready = True
        self._direct = self._open_direct()
        return sock

    def _open_direct(self) -> DirectEndpoint | None:
        """The direct socket for leases, or ``None`` (leases off, or no address a client could use)."""
        if self._hold is None:
            return None
        address = direct_bind_address(self.options)
        if address is None:
            _logger.info("No leases: a worker on a tcp backend_endpoint has no address clients can be told")
            return None
        try:
            return DirectEndpoint(self.options, address)
        except (ConfigurationError, TransportConnectionError) as exc:
            _logger.warning("No leases: could not bind a direct socket: %s", exc)
            return None

    def _ensure_router(self, first: bool = False) -> None:
        """Start the service's router if none runs (``auto`` role).

        At start-up a router that cannot start is a configuration error; later (the router died)
        the worker logs it and tries again at its next heartbeat.
        """
        lock_file = self.options.lock_file
        try:
            if router_is_running(lock_file):
                return
            pid = spawn_router(self.options.router_config())
        except (ConfigurationError, OSError) as exc:
            if first:
                raise ConfigurationError(f"Service {self.service_name}: {exc}") from exc
            if not self._router_start_failed:
                _logger.error("Could not start the router for %s: %s", self.service_name, exc)
            self._router_start_failed = True
            return
        self._router_start_failed = False
        if pid is not None:
            _logger.info("Started the router for %s (pid %s)", self.service_name, pid)

    @classmethod
    @contextlib.contextmanager
    def supervisor_context(cls, service_name: str, **kwargs: Any) -> Iterator[None]:
        """Run the service's router while a supervisor of worker processes runs.

        A supervisor enters this once, before it starts its workers, with the server transport's
        kwargs; workers then find the router running. On exit the router is stopped (unless it is
        not the one this call started).
        """
        config = server_options(kwargs).router_config()
        pid = spawn_router(config)
        try:
            yield
        finally:
            if pid is not None:
                stop_router(config.lock_file, pid)

    def close(self) -> None:
        """Leave the router gracefully: say DISCONNECT, hand back what arrives until BYE, close."""
        sock, self._socket = self._socket, None
        if sock is None or self._pid != process.pid:
            return
        if self._standalone is not None:
            self._standalone.close()
            self._standalone = None
            return
        direct, self._direct = self._direct, None
        self._lessee = None  # DISCONNECT, not READY, ends it
        items: list[tuple[Any, int]] = [(sock, _POLLIN)]
        if direct is not None:
            items.append((direct.socket, _POLLIN))
        try:
            sock.send(_DISCONNECT, zmq.NOBLOCK)
            now = time.monotonic()
            deadline = now + min(self.options.heartbeat_timeout_in_seconds, _MAX_GOODBYE_SECONDS)
            # Until the last lessee can no longer think it holds a lease, its requests are refused.
            refuse_until = self._refuse_until if direct is not None else now
            deadline = max(deadline, refuse_until)
            said_bye = False
            while (remaining := deadline - time.monotonic()) > 0:
                if said_bye:
                    remaining = refuse_until - time.monotonic()
                    if remaining <= 0:
                        break
                for polled, _event in zmq_poll(items, max(1, math.ceil(remaining * 1000))):
                    frames = recv_frames(polled, NOBLOCK)
                    if polled is not sock:
                        if direct is not None and len(frames) == 4:
                            self._refuse(direct.socket, frames[0])
                    elif len(frames) == 1 and _kind_of(frames[0]) == BYE:
                        said_bye = True
                    elif len(frames) == 3:
                        sock.send_multipart([frames[0], _BOUNCE, frames[1], frames[2]], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            _logger.warning("Could not leave the router cleanly: %s", exc)
        finally:
            sock.close()
            if direct is not None:
                direct.close()

    # --- receiving ---------------------------------------------------------------------------------

    def receive_request_message(self) -> ReceivedMessage:
        sock = self._connected()
        now = time.monotonic()
        deadline = now + self.options.receive_timeout_in_seconds
        if self._direct is not None:
            return self._receive_leasing(sock, self._direct.socket, deadline, now)
        try:
            while True:
                if not self._routed:
                    self._next_heartbeat = deadline
                elif self._owe_ready:
                    self._send_control(sock, _READY)
                    self._owe_ready = False
                    self._next_heartbeat = now + self._interval
                elif now >= self._next_heartbeat:
                    self._send_control(sock, _HEARTBEAT)
                    self._next_heartbeat = now + self._interval
                    if self.options.role == "auto":
                        self._ensure_router()
                wake = deadline if deadline < self._next_heartbeat else self._next_heartbeat  # not min(): per request
                frames = self._receive_by(sock, wake - now)
                if frames is None:
                    if time.monotonic() >= deadline:
                        raise MessageReceiveTimeout(f"No request for {self.service_name}") from None
                else:
                    message = self._accept(frames)
                    if message is not None:
                        return message
                now = time.monotonic()
        except zmq.ZMQError as exc:
            raise MessageReceiveError(f"Could not receive requests for {self.service_name}: {exc}") from exc

    def _receive_by(self, sock: zmq.Socket[Any], wait: float) -> list[bytes] | None:
        """The next message on the router's (or standalone) socket within ``wait`` seconds, or ``None``.

        One blocking receive bounded by RCVTIMEO (0: just look): cheaper per request than a poller.
        A standalone worker's wait is the same on every call: then the option is already right.
        """
        milliseconds = int(wait * 1000) if wait > 0.0 else 0  # not max(): once per request
        if milliseconds != self._receive_timeout_ms:
            set_receive_timeout(sock, milliseconds)
            self._receive_timeout_ms = milliseconds
        try:
            return recv_frames(sock)
        except zmq.Again:
            return None

    def _receive_leasing(
        self, sock: zmq.Socket[Any], direct: zmq.Socket[Any], deadline: float, now: float
    ) -> ReceivedMessage:
        """:meth:`receive_request_message` of a worker that offers leases: it watches both its sockets.

        Until its first offer no client can know the direct socket: it waits on the router's socket
        alone (no poller). After one it always watches both: a direct request may arrive any time
        after its lease ended (nothing bounds how long it was on its way), and must be refused
        then, never left waiting until the client's deadline.
        """
        # The router's socket first: a routed request ends a lease, so a direct one polled with it is refused.
        items: list[tuple[Any, int]] = [(sock, _POLLIN), (direct, _POLLIN)]
        try:
            while True:
                if self._lessee is not None:
                    if now >= self._lease_until or now >= self._next_heartbeat:
                        # Unused for the hold time, or a heartbeat interval old (its READY is the
                        # heartbeat): idle again.
                        self._end_lease(sock, now)
                elif self._owe_ready:
                    self._send_control(sock, _READY)
                    self._owe_ready = False
                    self._next_heartbeat = now + self._interval
                    self._ask_for_leases(sock)
                elif now >= self._next_heartbeat:
                    self._send_control(sock, _HEARTBEAT)
                    self._next_heartbeat = now + self._interval
                    self._ask_for_leases(sock)
                    if self.options.role == "auto":
                        self._ensure_router()
                # Comparisons rather than min()/max() on this per-request path: the builtins' argument handling
                # costs several times as much.
                wake = deadline if deadline < self._next_heartbeat else self._next_heartbeat
                if not self._offered:
                    frames = self._receive_by(sock, wake - now)
                    if frames is None:
                        if time.monotonic() >= deadline:
                            raise MessageReceiveTimeout(f"No request for {self.service_name}")
                    else:
                        message = self._from_router_frames(sock, frames)
                        if message is not None:
                            return message
                    now = time.monotonic()
                    continue
                if self._lessee is not None and self._lease_until < wake:
                    wake = self._lease_until
                events = zmq_poll(items, math.ceil((wake - now) * 1000) if wake > now else 0)
                if not events and time.monotonic() >= deadline:
                    raise MessageReceiveTimeout(f"No request for {self.service_name}")
                for polled, _event in events:
                    message = self._from_router(sock) if polled is sock else self._from_lessee(direct)
                    if message is not None:
                        return message
                now = time.monotonic()
        except zmq.ZMQError as exc:
            raise MessageReceiveError(f"Could not receive requests for {self.service_name}: {exc}") from exc

    def _ask_for_leases(self, sock: zmq.Socket[Any]) -> None:
        """Until its router said it understands leases (an older one never does), say this worker offers them."""
        if not self._leases_allowed:
            self._send_control(sock, _LEASES)

    def _from_router(self, sock: zmq.Socket[Any]) -> ReceivedMessage | None:
        try:
            frames = recv_frames(sock, NOBLOCK)
        except zmq.Again:
            return None
        return self._from_router_frames(sock, frames)

    def _from_router_frames(self, sock: zmq.Socket[Any], frames: list[bytes]) -> ReceivedMessage | None:
        if len(frames) == 1:
            kind = _kind_of(frames[0])
            if kind == LEASES:
                self._leases_allowed = True
            elif kind == REVOKE:
                # Requests wait at the router and no worker is idle.
                now = time.monotonic()
                # Under such load a lease only adds REVOKE round trips and refused requests, and leaves
                # the worker idle while its lessee prepares its next call: no offers for a heartbeat
                # interval (a window of 0.1 s cost 2x4 closed-loop throughput ~8% in one measurement).
                self._no_offers_until = now + self._interval
                if self._lessee is not None:
                    self._end_lease(sock, now)
            return None
        if len(frames) == 3 and self._lessee is not None:
            # The router counted this worker idle (its LEASED crossed this request): the request
            # ends the lease, and the router now counts the worker busy. No READY owed for the lease.
            self._lessee = None
        self._serving_direct = False
        return self._accept(frames)

    def _from_lessee(self, direct: zmq.Socket[Any]) -> ReceivedMessage | None:
        """A direct request: served if it comes from the lessee under the current lease, else refused."""
        try:
            frames = recv_frames(direct, NOBLOCK)
        except zmq.Again:
            return None
        if len(frames) != 4:
            return None
        client, header, blob, lease_id = frames
        if client != self._lessee or lease_id != self._lease_id_frame:
            self._refuse(direct, client)
            return None
        self._serving_direct = True
        return self._request(client, header, blob)

    def _refuse(self, direct: zmq.Socket[Any], client: bytes) -> None:
        """LEASE_ENDED: the request did not run; its client resends it through the router."""
        self.metrics.counter("server.transport.zmq.lease_refused").increment()
        try:
            send_frames(direct, [client, _LEASE_ENDED])
        except zmq.ZMQError as exc:
            _logger.debug("Could not refuse a direct request: %s", exc.strerror)

    def _end_lease(self, sock: zmq.Socket[Any], now: float) -> None:
        self._lessee = None
        self._send_control(sock, _READY)
        self._owe_ready = False
        self._next_heartbeat = now + self._interval

    def _offer(self, client: bytes) -> list[Any] | None:
        """A lease offer for ``client`` (it asked, and its request came through the router), or ``None``."""
        direct = self._direct
        if (
            direct is None
            or self._hold is None
            or not self._leases_allowed
            or self._wants_lease != client
            or time.monotonic() < self._no_offers_until
        ):
            return None
        self._lease_id = (self._lease_id + 1) & 0xFFFFFFFFFFFFFFFF
        # The lease lasts at most until the next heartbeat is due, one interval after the response.
        # Its size limit too: a larger request goes through the router, which this worker answers
        # with a clear error (its direct socket, bound, would cut off the connection instead).
        self._offered = True
        return [self._lease_id, direct.announced, self._hold, self._interval, self._maximum_size]

    def _send_control(self, sock: zmq.Socket[Any], header: bytes) -> None:
        try:
            sock.send(header, zmq.NOBLOCK)
        except zmq.Again:
            pass  # the queue to the router is full (it is down): the next heartbeat will do

    def _accept(self, frames: list[bytes]) -> ReceivedMessage | None:
        """A request from ``frames``, or ``None`` for anything to skip. Raises :class:`InvalidMessageError`."""
        if len(frames) != 3:
            return None  # a late BYE, a control message for leases, or nothing of ours
        client, header_frame, blob = frames
        # Whatever this is, the router now counts this worker busy: it owes a response or READY.
        self._owe_ready = True
        return self._request(client, header_frame, blob)

    def _request(self, client: bytes, header_frame: bytes, blob: bytes) -> ReceivedMessage | None:
        """The request in a (routed or direct) message, or ``None`` to skip it. Raises :class:`InvalidMessageError`."""
        self._wants_lease = None
        # The usual request: a well-formed header whose content type names a serializer met before.
        known = (
            self._request_serializers.get(header_frame[FIXED_SIZE:]) if header_frame[:4] == _REQUEST_PREFIX else None
        )
        if known is not None:
            expires_at = expires_at_of(header_frame)
            content_type_name: str | None = None
        else:
            try:
                header = parse_header(header_frame)
            except InvalidMessageError as exc:
                self.metrics.counter("server.transport.zmq.invalid_message").increment()
                _dropped_log.warning("Dropped a request with a bad header: %s", exc)
                return None
            if header.kind != REQUEST:
                return None
            expires_at = header.expires_at
            content_type_name = header.content_type or None
        if expires_at < time.time():
            self.metrics.counter("server.transport.zmq.request_expired").increment()
            return None
        if known is not None:
            serializer = known
        else:
            serializer = self._serializers.serializer_for(content_type_name)
            if serializer.mime_type == content_type_name:
                # Only the content types of registered serializers: a flood of made-up ones adds nothing.
                self._request_serializers[header_frame[FIXED_SIZE:]] = serializer
        # The reply speaks what the request was decoded with (an unknown type falls back to the default).
        content_type = serializer.mime_type
        if len(blob) > self._maximum_size:
            self._refuse_too_large(client, content_type, blob, serializer)
            return None
        try:
            message = serializer.blob_to_dict(blob)
        except DecodeError as exc:
            raise InvalidMessageError(f"Undecodable request: {exc}") from exc
        observer = self.message_sizes.observer
        if observer is not None:  # MessageSizes.received's test, without its call (per message)
            observer.received(len(blob))
        try:
            request_id, meta, body = split_request(message)
        except InvalidMessageError as exc:
            if exc.request_id is not None:
                exc.meta = {**(exc.meta or {}), REPLY_TO_META_KEY: client, CONTENT_TYPE_META_KEY: content_type}
            raise
        meta[REPLY_TO_META_KEY] = client
        meta[CONTENT_TYPE_META_KEY] = content_type
        if meta.pop(LEASE_META_KEY, None) and not self._serving_direct:
            self._wants_lease = client
        # One per message: the tuple is built without the named tuple's Python-level __new__.
        return _new_tuple(ReceivedMessage, (request_id, meta, body))

    def _refuse_too_large(self, client: bytes, content_type: str, blob: bytes, serializer: Serializer) -> None:
        """Raise :class:`RequestTooLarge` with the client's address when the request id can be read unbodied.

        Otherwise (a serializer that cannot read the envelope's head alone) log and drop it.
        """
        message = (
            f"Refused a request of {len(blob)} bytes to {self.service_name!r}: the server's "
            f"maximum_message_size_in_bytes is {self._maximum_size}"
        )
        head = serializer.envelope_head(blob)
        if head is None or head[0] is None:
            self.metrics.counter("server.transport.zmq.invalid_message").increment()
            _dropped_log.error("Dropped a request that cannot be answered: %s", message)
            return
        request_id, meta = head
        meta[REPLY_TO_META_KEY] = client
        meta[CONTENT_TYPE_META_KEY] = content_type
        raise RequestTooLarge(message, request_id=request_id, meta=meta)

    # --- sending ------------------------------------------------------------------------------------

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        client = meta.get(REPLY_TO_META_KEY)
        content_type = meta.get(CONTENT_TYPE_META_KEY)
        if not isinstance(client, bytes) or not isinstance(content_type, str):
            raise InvalidMessageError("Cannot answer: the request's meta has lost its return address")
        responder = self._responders.get(content_type)
        if responder is None:
            responder = self._responders[content_type] = (
                self._serializers.serializer_for(content_type),
                response_header(content_type.encode("ascii")),
            )
        serializer, header = responder
        wire = wire_meta(meta)
        offer = self._offer(client) if self._wants_lease is not None and not self._serving_direct else None
        if offer is not None:
            wire[LEASE_META_KEY] = offer
        blob = serializer.dict_to_blob({"request_id": request_id, "meta": wire, "body": body})
        if len(blob) > self._maximum_size:
            raise MessageTooLarge(
                len(blob),
                f"Response of {len(blob)} bytes exceeds maximum_message_size_in_bytes ({self._maximum_size})",
            )
        observer = self.message_sizes.observer
        if observer is not None:  # MessageSizes.sent's test, without its call (per message)
            observer.sent(len(blob))
        sock = self._connected()
        frames = [client, header, blob]
        if self._serving_direct:
            self._answer_lessee(frames)
            return
        if not self._routed:
            try:
                send_frames(sock, frames)
            except zmq.ZMQError as exc:
                # The client left, or stopped reading: nobody will take this response.
                _logger.debug("Dropped a response for a client: %s", exc.strerror)
            return
        try:
            try:
                send_frames(sock, frames)
            except zmq.Again:
                # The queue to the router is full: it is down or restarting. Wait a little, not forever.
                if not sock.poll(int(self.options.heartbeat_timeout_in_seconds * 1000), zmq.POLLOUT):
                    raise MessageSendTimeout(f"The router of {self.service_name} is not taking responses") from None
                send_frames(sock, frames)
        except zmq.ZMQError as exc:
            raise MessageSendError(f"Could not send a response for {self.service_name}: {exc}") from exc
        self._owe_ready = False
        now = time.monotonic()
        self._next_heartbeat = now + self._interval
        if offer is not None and self._hold is not None:
            # Leased, not idle: the router must not count this worker idle (it just did, for the response).
            self._wants_lease = None
            self._lessee = client
            self._lease_id_frame = offer[0].to_bytes(8, "big")
            self._lease_until = now + self._hold
            self._refuse_until = min(self._lease_until, self._next_heartbeat) + _REFUSAL_MARGIN_SECONDS
            self._send_control(sock, _LEASED)

    def _answer_lessee(self, frames: list[bytes]) -> None:
        """Answer a direct request on the direct socket; the lease goes on for another hold time."""
        direct = self._direct
        if direct is None:
            return  # leaving: the socket is closed
        try:
            send_frames(direct.socket, frames)
        except zmq.ZMQError as exc:
            # The client left, or stopped reading: nobody will take this response.
            _logger.debug("Dropped a direct response for a client: %s", exc.strerror)
        if self._lessee is not None and self._hold is not None:
            self._lease_until = time.monotonic() + self._hold
            # The lease ends at the next heartbeat at the latest (see _receive_leasing).
            self._refuse_until = min(self._lease_until, self._next_heartbeat) + _REFUSAL_MARGIN_SECONDS


class _StandaloneEndpoint(ClientFacingEndpoint):
    """``role: standalone``: this process binds the service endpoint itself and serves clients directly.

    No router hop, so the lowest latency; but only this one process can serve the endpoint (it
    holds the router lock), so there is no load balancing.
    """

    def __init__(self, service_name: str, options: ServerOptions) -> None:
        self.lock = RouterLock(options.lock_file)
        if not self.lock.acquire():
            holder = RouterLock.holder_pid(options.lock_file)
            raise ConfigurationError(
                f"Service {service_name}: {options.endpoint} is already served (by pid {holder}); "
                "only one standalone process can serve an endpoint"
            )
        super().__init__(options, options.endpoint)
        _logger.info("Serving %s directly on %s (standalone)", service_name, options.endpoint)

    def close(self) -> None:
        super().close()
        self.lock.release()


def _kind_of(frame: bytes) -> int:
    try:
        return parse_header(frame).kind
    except InvalidMessageError:
        return 0
