"""The Redis client transport: sends job requests to ``pysoa:service.<name>``, reads replies from its own queue."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from conformity import fields

from pysoa.common.log_limit import RateLimitedLogger
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.base import ClientTransport, ReceivedMessage, get_hex_thread_id
from pysoa.common.transport.message import Envelope, expiry_seconds
from pysoa.errors import InvalidMessageError, MessageReceiveTimeout, MessageSendTimeout
from soa_redis._backend import PendingPop
from soa_redis._config import CLIENT_SETTINGS_SCHEMA
from soa_redis._core import TransportCore, parse
from soa_redis._envelope import (
    make_reply_to,
    queue_key,
    redis_ttl_seconds,
    request_queue_key,
    validate_response,
    wire_meta,
)
from soa_redis._framing import frame_prefix

__all__ = ["RedisClientTransport"]

_logger = logging.getLogger(__name__)
# Garbage on a reply queue is logged, but a flood of it cannot flood the log.
_dropped_log = RateLimitedLogger(_logger)

_NO_MESSAGE: Final = ReceivedMessage(None, None, None)
# A reply to a request is still expected this long after the request's own expiry (the Redis TTL
# margin): a server may finish a job it dequeued just in time.
_REPLY_GRACE_SECONDS: Final = 10.0
# How long past its deadline a reply that started arriving may take to arrive whole.
_LATE_READ_SECONDS: Final = 0.05
_new_tuple = tuple.__new__
# A response in one frame of up to this size is kept decoded until the next request is written
# (_ThreadState.spent): a bigger one is freed as soon as its caller lets go of it.
_KEEP_SPENT_BYTES: Final = 64 * 1024


@dataclass
class _ThreadState:
    """One thread's reply queue and the requests it sent whose replies are still expected."""

    reply_to: str
    reply_key: str
    # request id -> monotonic time after which no reply is expected any more
    outstanding: dict[Any, float] = field(default_factory=dict)
    # No entry of ``outstanding`` expires before this, so most prunes need not look at them.
    earliest_expiry: float = float("inf")
    # A BLPOP of the reply queue written behind a request's push (one round trip for both), not yet read.
    pending: PendingPop | None = None
    # The last small response read, decoded: kept until the next request is written, so that what the caller no
    # longer needs of it is freed while that request's reply is on its way instead of before the request is sent.
    spent: Any = None

    def expect(self, request_id: Any, until: float) -> None:
        self.outstanding[request_id] = until
        self.earliest_expiry = min(self.earliest_expiry, until)

    def prune(self, now: float) -> None:
        # Scanning on every receive would cost O(n) each, O(n²) for a parallel call of n jobs.
        if now < self.earliest_expiry:
            return
        expired = [request_id for request_id, until in self.outstanding.items() if until < now]
        for request_id in expired:
            del self.outstanding[request_id]
        self.earliest_expiry = min(self.outstanding.values(), default=float("inf"))


class RedisClientTransport(ClientTransport):
    """Client side of the Redis transport (PySOA 1.4's ``RedisClientTransport``, same wire protocol).

    Each thread using the transport gets its own reply queue,
    ``service.<name>.<32 hex of this transport>!<thread id hex>``. Settings: see the plugin README.
    """

    name: ClassVar[str] = "redis"
    settings_schema: ClassVar[fields.Base] = CLIENT_SETTINGS_SCHEMA

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None, **kwargs: Any) -> None:
        super().__init__(service_name, metrics)
        self._core = TransportCore(service_name, self.metrics, kwargs, CLIENT_SETTINGS_SCHEMA, server=False)
        self._core.codec.sizes = self.message_sizes
        self.client_id = uuid.uuid4().hex
        self._request_key = request_queue_key(service_name)
        options = self._core.options
        self._default_expiry = options.message_expiry_in_seconds
        self._default_ttl = redis_ttl_seconds(float(self._default_expiry), False)
        self._default_receive_timeout = options.receive_timeout_in_seconds
        self._capacity = options.queue_capacity
        # Every request this transport sends has the same framing.
        self._frame_prefix = frame_prefix(options.protocol_version, self._core.default_serializer.mime_type)
        self._local = threading.local()
        # Write the first wait for a reply behind the request's push. The wait takes the reply off Redis as soon as
        # it comes, so tests that inspect replies on Redis turn this off.
        self._first_wait_behind_push = True

    def _state(self) -> _ThreadState:
        state: _ThreadState | None = getattr(self._local, "state", None)
        if state is None:
            reply_to = make_reply_to(self.service_name, self.client_id, get_hex_thread_id())
            state = self._local.state = _ThreadState(reply_to, queue_key(reply_to))
        return state

    @property
    def requests_outstanding(self) -> int:
        """How many replies the current thread still expects (PySOA's attribute name)."""
        state = self._state()
        state.prune(time.monotonic())
        return len(state.outstanding)

    def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        if request_id is None:
            raise InvalidMessageError("No request ID")
        try:
            state: _ThreadState = self._local.state
        except AttributeError:
            state = self._state()
        core = self._core
        backend = core.backend
        # PySOA treats a zero expiry as "none given"; a negative one is a call already out of time.
        expires_in, explicit = expiry_seconds(message_expiry_in_seconds, self._default_expiry)
        if expires_in <= 0:
            raise MessageSendTimeout(f"The call to {self.service_name!r} has no time left to send a request")
        deadline = time.monotonic() + expires_in

        wire = wire_meta(meta)
        wire["reply_to"] = state.reply_to
        key = self._request_key
        host = backend.single_host
        index = core.stamp_expiry(key, wire, expires_in)
        frame = self._frame_prefix + core.encode(request_id, wire, body, core.default_serializer)

        # Everything above is free of I/O: a message too large or not serializable fails before Redis is touched.
        if index is None:
            index = backend.host_for(key, "send", deadline)
            host = backend.single_host
        control = body.get("control") if isinstance(body, dict) else None
        expects_reply = not (isinstance(control, dict) and control.get("suppress_response"))
        ttl_seconds = redis_ttl_seconds(expires_in, explicit) if explicit else self._default_ttl
        # With one host the reply queue is where the request goes: write the first wait for the reply behind the
        # push. It stays pending (in this thread's state) until a receive reads it, even if this send fails.
        pending = None
        if host is not None and expects_reply and state.pending is None and self._first_wait_behind_push:
            pending = backend.pending_pop(index, state.reply_key, expires_in)
        if pending is None:
            core.push(index, key, (frame,), ttl_seconds, deadline)
        else:
            # The push with the pop behind it, made here rather than through core.push's general steps.
            try:
                pushed = backend.push_before(pending, key, frame, ttl_seconds, self._capacity, deadline)
            finally:
                if pending.alive:
                    state.pending = pending
                else:
                    backend.release_pop(pending)
            if not pushed:
                core.push_when_room(index, key, (frame,), ttl_seconds, deadline)
        state.spent = None  # the request is written: see _ThreadState.spent
        if expects_reply:
            # state.expect's steps, without the call: once per request. The send's deadline is its expiry from now.
            until = deadline + _REPLY_GRACE_SECONDS
            state.outstanding[request_id] = until
            if until < state.earliest_expiry:
                state.earliest_expiry = until

    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        try:
            state: _ThreadState = self._local.state
        except AttributeError:
            state = self._state()
        started = time.monotonic()
        if started >= state.earliest_expiry:  # prune's own test, without the call in the usual case
            state.prune(started)
        if not state.outstanding:
            return _NO_MESSAGE
        core = self._core
        deadline = started + (receive_timeout_in_seconds or self._default_receive_timeout)
        key = state.reply_key
        index = 0 if core.backend.single_host is not None else core.backend.known_host_for(key)
        if index is None:
            index = core.backend.host_for(key, "receive", deadline)
        while True:
            pending = state.pending
            if pending is not None and pending.inherited:
                state.pending = pending = None  # the parent process reads it, not this one
            if pending is not None:
                # _wait_pending's steps, without the call: once per response.
                try:
                    done, data = core.backend.wait_pop(pending, deadline, _LATE_READ_SECONDS)
                except BaseException:
                    state.pending = None
                    raise
                if done:
                    state.pending = None
                else:
                    raise MessageReceiveTimeout(
                        f"nothing arrived from {self.service_name!r} on Redis at {core.backend.label(index)} "
                        f"in {time.monotonic() - started:.3f} s"
                    )
            else:
                # One BLPOP blocks at most MAX_BLOCK_SECONDS: a longer wait takes several.
                data = core.pop(index, key, deadline, precise=True)
            if data is None:
                if time.monotonic() < deadline:
                    continue
                raise MessageReceiveTimeout(
                    f"nothing arrived from {self.service_name!r} on Redis at {core.backend.label(index)} "
                    f"in {time.monotonic() - started:.3f} s"
                )
            # _read's steps for a response in one frame (the usual case), without the call.
            envelope = None
            try:
                frame = parse(data)
                if frame.chunk_count is None:
                    envelope = core.codec.decode(frame.payload, frame.content_type)
            except InvalidMessageError as exc:
                self._drop_unreadable(key, exc)
                continue
            # Only a small response in one frame is kept (see _ThreadState.spent).
            keep = envelope is not None and len(data) <= _KEEP_SPENT_BYTES
            if envelope is None:
                envelope = self._read(data, index, key, deadline, started)
                if envelope is None:
                    continue
            request_id, meta, body = envelope.request_id, envelope.meta or {}, envelope.body
            try:
                # A usual response (an int or str request id, a map body) is valid without the call and its ABC check.
                if (type(request_id) is not int and type(request_id) is not str) or type(body) is not dict:
                    validate_response(envelope)
            except InvalidMessageError as exc:
                core.count("receive.invalid_message")
                if exc.request_id is None:
                    _dropped_log.warning("Dropped a response that names no request on reply queue %s: %s", key, exc)
                    continue
                # A reply to a known request, but unusable: that request gets no other reply.
                state.outstanding.pop(request_id, None)
                raise
            if core.is_expired(index, meta, deadline):
                core.count("receive.expired")
                _logger.debug("Dropped expired response %r from %s", request_id, self.service_name)
                state.outstanding.pop(request_id, None)
                if not state.outstanding:
                    return _NO_MESSAGE
                continue
            state.outstanding.pop(request_id, None)
            if keep:
                state.spent = envelope
            # One per response: the tuple is built without the named tuple's Python-level __new__.
            return _new_tuple(ReceivedMessage, (request_id, meta, body))

    def _read(self, data: bytes, index: int, key: str, deadline: float, started: float) -> Envelope | None:
        """Decode one response (reading the rest of its chunks); ``None`` for garbage that answers nothing."""
        core = self._core
        try:
            frame = parse(data)
            if frame.chunk_count is None:
                return core.codec.decode(frame.payload, frame.content_type)
            payload = core.reassemble(frame, index, key, deadline)
            if payload is None:
                raise MessageReceiveTimeout(
                    f"A chunked response from {self.service_name!r} was incomplete at the deadline "
                    f"(on Redis at {core.backend.label(index)}, after {time.monotonic() - started:.3f} s)"
                )
            return core.codec.decode(payload, frame.content_type)
        except InvalidMessageError as exc:
            self._drop_unreadable(key, exc)
            return None

    def _drop_unreadable(self, key: str, exc: InvalidMessageError) -> None:
        # Nothing to route it to: a corrupt reply must not fail a call whose reply may still come.
        self._core.count("receive.invalid_message")
        _dropped_log.warning("Dropped an unreadable message on reply queue %s: %s", key, exc)
