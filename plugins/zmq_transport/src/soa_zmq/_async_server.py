"""The server (worker) side on asyncio, for workers that run jobs concurrently (``async_jobs_per_worker``).

The router hands a worker one request at a time and counts it busy until its response (see
:mod:`soa_zmq.router`). A worker that runs N jobs at once therefore takes part as up to N *lanes*:
DEALER sockets of their own, each a worker to the router, each holding at most one job. A lane is
opened when the server asks for a request while every open lane holds a job, so a worker never
has more lanes than the jobs it ran at once. Because each lane is an ordinary worker to the router,
the router's load spreading, heartbeats, graceful goodbye and expiry rules apply unchanged, and an
async action can call its own service through a one-process worker (the call goes to another lane).

With ``role: standalone`` the worker binds the service endpoint itself (a ROUTER socket): every
client reaches it directly, so no lanes are needed. Frames are those of :mod:`soa_zmq._protocol`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any, Final

import zmq
import zmq.asyncio

from pysoa.common.log_limit import RateLimitedLogger
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.serializer.base import Serializer
from pysoa.common.transport.async_base import AsyncServerTransport, IncomingRequest
from pysoa.common.transport.message import EnvelopeCodec, ReplyRoute, SerializerRegistry
from pysoa.errors import (
    ConfigurationError,
    DecodeError,
    InvalidMessageError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
    RequestTooLarge,
)
from pysoa.plugins import get_plugin_manager
from soa_zmq._election import router_is_running
from soa_zmq._protocol import (
    BOUNCE,
    BYE,
    DISCONNECT,
    HEARTBEAT,
    LEASE_META_KEY,
    READY,
    REQUEST,
    control_header,
    parse_header,
    response_header,
    split_request,
)
from soa_zmq._server import _StandaloneEndpoint as StandaloneEndpoint
from soa_zmq._settings import SERVER_SETTINGS_SCHEMA, ServerOptions, server_options
from soa_zmq._sockets import apply_common_options, connect, get_context
from soa_zmq.router import spawn_router

__all__ = ["AsyncZmqServerTransport"]

_logger = logging.getLogger("soa_zmq.server")
_dropped_log = RateLimitedLogger(_logger)

_READY: Final = control_header(READY)
_HEARTBEAT: Final = control_header(HEARTBEAT)
_DISCONNECT: Final = control_header(DISCONNECT)
_BOUNCE: Final = control_header(BOUNCE)
_MAX_GOODBYE_SECONDS: Final = 2.0


class _Lane:
    """One DEALER connection to the router's backend: a worker to the router, holding at most one job."""

    __slots__ = ("busy_until", "next_heartbeat", "owe_ready", "socket")

    def __init__(self, sock: zmq.asyncio.Socket) -> None:
        self.socket = sock
        # Wall-clock expiry of the job it holds (0.0: idle). A job that never answers (its handler
        # failed) frees the lane once its caller has given up; the router forgets it then too.
        self.busy_until = 0.0
        # The router counts this lane busy without a job here (a dropped request): tell it otherwise.
        self.owe_ready = True
        self.next_heartbeat = 0.0


class AsyncZmqServerTransport(AsyncServerTransport):
    """Receives job requests from the service's router (or its clients, standalone) on asyncio."""

    # Idle lanes stay ready at the router: see AsyncServerTransport.takes_work_while_blocked.
    takes_work_while_blocked = True

    name = "zmq"
    settings_schema = SERVER_SETTINGS_SCHEMA

    def __init__(
        self, service_name: str, metrics: MetricsRecorder | None = None, instance_index: int = 1, **kwargs: Any
    ) -> None:
        super().__init__(service_name, metrics, instance_index)
        self.options: ServerOptions = server_options(kwargs)
        serializer_kwargs = dict(self.options.serializer["kwargs"])
        serializer_kwargs.setdefault("max_message_size_in_bytes", self.options.maximum_message_size_in_bytes)
        default: Serializer = self.options.serializer["object"](**serializer_kwargs)
        self._maximum_size = self.options.maximum_message_size_in_bytes
        self._codec = EnvelopeCodec(
            SerializerRegistry(default, self._maximum_size, get_plugin_manager().serializer_for_mime_type),
            self._maximum_size,
            f"service {service_name!r}",
        )
        self._response_headers: dict[str, bytes] = {}
        self._interval = self.options.heartbeat_interval_in_seconds
        self._lanes: list[_Lane] = []
        self._standalone: StandaloneEndpoint | None = None
        self._standalone_socket: zmq.asyncio.Socket | None = None
        self._router_checked = False
        self._router_start_failed = False

    # --- receiving -------------------------------------------------------------------------------------

    async def receive_request_message(self) -> IncomingRequest:
        deadline = time.monotonic() + self.options.receive_timeout_in_seconds
        try:
            if self.options.role == "standalone":
                return await self._receive_standalone(deadline)
            return await self._receive_routed(deadline)
        except zmq.ZMQError as exc:
            raise MessageReceiveError(f"Could not receive requests for {self.service_name}: {exc}") from exc

    async def _receive_standalone(self, deadline: float) -> IncomingRequest:
        sock = self._standalone_socket
        if sock is None:
            self._standalone = StandaloneEndpoint(self.service_name, self.options)
            sock = self._standalone_socket = zmq.asyncio.Socket.from_socket(self._standalone.socket)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not await sock.poll(max(1, int(left * 1000))):
                raise MessageReceiveTimeout(f"No request for {self.service_name}")
            incoming = self._accept(None, await sock.recv_multipart())
            if incoming is not None:
                return incoming

    async def _receive_routed(self, deadline: float) -> IncomingRequest:
        if not self._router_checked:
            if self.options.role == "auto":
                await self._ensure_router(first=True)
            self._router_checked = True
        wall = time.time()
        for lane in self._lanes:
            if lane.busy_until and lane.busy_until < wall:
                lane.busy_until = 0.0
                lane.owe_ready = True
        idle = [lane for lane in self._lanes if not lane.busy_until]
        if not idle:
            idle = [self._open_lane()]
        poller = zmq.asyncio.Poller()
        by_socket: dict[Any, _Lane] = {}
        for lane in idle:
            poller.register(lane.socket, zmq.POLLIN)
            by_socket[lane.socket] = lane
        while True:
            now = time.monotonic()
            await self._speak(idle, now)
            wait = min(deadline, min(lane.next_heartbeat for lane in idle)) - now
            for sock, _event in await poller.poll(max(0, int(wait * 1000))):
                lane = by_socket[sock]
                incoming = self._accept(lane, await lane.socket.recv_multipart())
                if incoming is not None:
                    return incoming
            if time.monotonic() >= deadline:
                raise MessageReceiveTimeout(f"No request for {self.service_name}")

    async def _speak(self, idle: list[_Lane], now: float) -> None:
        """READY where owed, HEARTBEAT where due; at a heartbeat (``auto`` role) restart a dead router."""
        heartbeat_due = False
        for lane in idle:
            if lane.owe_ready:
                await _send_control(lane.socket, _READY)
                lane.owe_ready = False
                lane.next_heartbeat = now + self._interval
            elif now >= lane.next_heartbeat:
                await _send_control(lane.socket, _HEARTBEAT)
                lane.next_heartbeat = now + self._interval
                heartbeat_due = True
        if heartbeat_due and self.options.role == "auto":
            await self._ensure_router()

    def _accept(self, lane: _Lane | None, frames: list[bytes]) -> IncomingRequest | None:
        """The request in ``frames``; ``None`` for anything to skip. Raises :class:`InvalidMessageError`."""
        if len(frames) != 3:
            return None  # a late BYE, or nothing of ours
        client, header_frame, blob = frames
        if lane is not None:
            lane.owe_ready = True  # the router now counts the lane busy, whatever this is
        try:
            header = parse_header(header_frame)
        except InvalidMessageError as exc:
            self.metrics.counter("server.transport.zmq.invalid_message").increment()
            _dropped_log.warning("Dropped a request with a bad header: %s", exc)
            return None
        if header.kind != REQUEST:
            return None
        if header.expires_at < time.time():
            self.metrics.counter("server.transport.zmq.request_expired").increment()
            return None
        serializer = self._codec.serializers.serializer_for(header.content_type or None)
        route = ReplyRoute((lane, client), {"content_type": serializer.mime_type})
        if len(blob) > self._maximum_size:
            return self._hold(lane, header.expires_at, self._refuse_too_large(route, blob, serializer))
        try:
            message = serializer.blob_to_dict(blob)
        except DecodeError as exc:
            raise InvalidMessageError(f"Undecodable request: {exc}") from exc
        try:
            request_id, meta, body = split_request(message)
        except InvalidMessageError as exc:
            if exc.request_id is None:
                raise
            return self._hold(
                lane, header.expires_at, IncomingRequest(exc.request_id, exc.meta or {}, None, route, exc)
            )
        meta.pop(LEASE_META_KEY, None)  # a lease request: this worker offers none
        if lane is not None and _suppresses_response(body):
            # No response will free this lane: it may take the next request now (the slot bounds jobs).
            return IncomingRequest(request_id, meta, body, route)
        return self._hold(lane, header.expires_at, IncomingRequest(request_id, meta, body, route))

    def _refuse_too_large(self, route: ReplyRoute, blob: bytes, serializer: Serializer) -> IncomingRequest | None:
        """A refusal to answer when the request id can be read without the body; else logged and dropped."""
        refusal = RequestTooLarge(
            f"Refused a request of {len(blob)} bytes to {self.service_name!r}: the server's "
            f"maximum_message_size_in_bytes is {self._maximum_size}"
        )
        head = serializer.envelope_head(blob)
        if head is None or head[0] is None:
            self.metrics.counter("server.transport.zmq.invalid_message").increment()
            _dropped_log.error("Dropped a request that cannot be answered: %s", refusal)
            return None
        request_id, meta = head
        return IncomingRequest(request_id, meta, None, route, refusal)

    @staticmethod
    def _hold(lane: _Lane | None, expires_at: float, incoming: IncomingRequest | None) -> IncomingRequest | None:
        if lane is not None and incoming is not None:
            lane.busy_until = expires_at
            lane.owe_ready = False  # its response says "idle" to the router
        return incoming

    # --- sending ---------------------------------------------------------------------------------------

    async def send_response_message(
        self, route: ReplyRoute, request_id: Any, meta: dict[str, Any], body: dict[str, Any]
    ) -> None:
        lane, client = route.address
        content_type: str = route.framing["content_type"]
        serializer = self._codec.serializers.serializer_for(content_type)
        blob = self._codec.encode(request_id, meta, body, serializer)
        header = self._response_headers.get(content_type)
        if header is None:
            header = self._response_headers[content_type] = response_header(content_type.encode("ascii"))
        frames = [client, header, blob]
        if lane is None:
            sock = self._standalone_socket
            if sock is None:
                return  # closed meanwhile
            try:
                await sock.send_multipart(frames, zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                # The client left, or stopped reading: nobody will take this response.
                _logger.debug("Dropped a response for a client: %s", exc.strerror)
            return
        if lane.socket.closed:
            return
        timeout = self.options.heartbeat_interval_in_seconds * self.options.heartbeat_liveness
        try:
            # The queue to the router is full only while it is down or restarting: wait a little, not forever.
            await asyncio.wait_for(lane.socket.send_multipart(frames), timeout)
        except TimeoutError:
            raise MessageSendTimeout(f"The router of {self.service_name} is not taking responses") from None
        except zmq.ZMQError as exc:
            raise MessageSendError(f"Could not send a response for {self.service_name}: {exc}") from exc
        finally:
            lane.busy_until = 0.0
        lane.owe_ready = False
        lane.next_heartbeat = time.monotonic() + self._interval

    # --- connections -----------------------------------------------------------------------------------

    def _open_lane(self) -> _Lane:
        options = self.options
        sock = zmq.asyncio.Context.shadow(get_context()).socket(zmq.DEALER)
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
            number = len(self._lanes) + 1
            identity = f"{socket.gethostname()}/{os.getpid()}/{self.instance_index}.{number}/{os.urandom(3).hex()}"
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
        lane = _Lane(sock)
        self._lanes.append(lane)
        return lane

    async def _ensure_router(self, first: bool = False) -> None:
        """Start the service's router if none runs (``auto`` role), off the event loop.

        At start-up a router that cannot start is a configuration error; later (the router died)
        it is logged and tried again at the next heartbeat.
        """
        config = self.options.router_config()
        try:
            if router_is_running(config.lock_file):
                return
            pid = await asyncio.to_thread(spawn_router, config)
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

    async def aclose(self) -> None:
        """Leave the router lane by lane (DISCONNECT, hand back what arrives until BYE), or unbind."""
        lanes, self._lanes = self._lanes, []
        await asyncio.gather(*(self._leave(lane) for lane in lanes))
        sock, self._standalone_socket = self._standalone_socket, None
        if sock is not None:
            sock.close(linger=1000)
        endpoint, self._standalone = self._standalone, None
        if endpoint is not None:
            endpoint.close()

    async def _leave(self, lane: _Lane) -> None:
        sock = lane.socket
        try:
            await _send_control(sock, _DISCONNECT)
            deadline = time.monotonic() + min(self.options.heartbeat_timeout_in_seconds, _MAX_GOODBYE_SECONDS)
            while (remaining := deadline - time.monotonic()) > 0:
                if not await sock.poll(max(1, int(remaining * 1000))):
                    break
                frames = await sock.recv_multipart()
                if len(frames) == 1 and _kind_of(frames[0]) == BYE:
                    break
                if len(frames) == 3:
                    await sock.send_multipart([frames[0], _BOUNCE, frames[1], frames[2]], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            _logger.warning("Could not leave the router cleanly: %s", exc)
        finally:
            sock.close()


async def _send_control(sock: zmq.asyncio.Socket, header: bytes) -> None:
    try:
        # NOBLOCK: done at once; the async socket reports its failure through the awaited future.
        await sock.send(header, zmq.NOBLOCK)
    except zmq.Again:
        pass  # the queue to the router is full (it is down): the next heartbeat will do


def _suppresses_response(body: dict[str, Any]) -> bool:
    control = body.get("control")
    return isinstance(control, dict) and bool(control.get("suppress_response"))


def _kind_of(frame: bytes) -> int:
    try:
        return parse_header(frame).kind
    except InvalidMessageError:
        return 0
