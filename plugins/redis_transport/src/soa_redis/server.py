"""The Redis server transport: reads job requests from ``pysoa:service.<name>``, pushes replies to ``reply_to``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Final

from conformity import fields

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.base import ReceivedMessage, ServerTransport
from pysoa.errors import InvalidMessageError, MessageReceiveTimeout, MessageTooLarge, RequestTooLarge, TransportError
from soa_redis._backend import MIN_BLOCK_SECONDS, PendingPop
from soa_redis._cluster import RedisClusterBackend
from soa_redis._config import SERVER_SETTINGS_SCHEMA
from soa_redis._core import TransportCore, parse
from soa_redis._envelope import (
    CONTENT_TYPE_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    is_valid_reply_to,
    queue_key,
    redis_ttl_seconds,
    request_queue_key,
    validate_request,
    wire_meta,
)
from soa_redis._framing import (
    CHUNKING_PROTOCOL_VERSION,
    DEFAULT_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    Frame,
    build_frames,
    frame_prefix,
    needs_chunks,
)
from soa_redis._preflight import check_cluster_backend, check_server_backend

__all__ = ["RedisServerTransport"]

_logger = logging.getLogger(__name__)

# With several hosts a worker blocks on one at a time; short blocks keep requests on the other
# hosts from waiting long.
_MULTI_HOST_BLOCK_SECONDS: Final = 0.5
# How many reply queues' keys a server keeps (RedisServerTransport._reply_key).
_REPLY_KEYS_KEPT: Final = 1024
# How long after a pending pop should have ended Redis may answer it before it counts as stalled.
_STALL_MARGIN_SECONDS: Final = 1.0
_new_tuple = tuple.__new__


class RedisServerTransport(ServerTransport):
    """Server side of the Redis transport (PySOA 1.4's ``RedisServerTransport``, same wire protocol).

    Replies use the protocol version and content type of the request they answer. Malformed
    requests raise :class:`~pysoa.errors.InvalidMessageError` (with ``request_id`` and ``meta`` only
    when a valid reply queue exists); expired requests are dropped. Settings: see the plugin README.
    """

    name: ClassVar[str] = "redis"
    settings_schema: ClassVar[fields.Base] = SERVER_SETTINGS_SCHEMA

    def __init__(
        self, service_name: str, metrics: MetricsRecorder | None = None, instance_index: int = 1, **kwargs: Any
    ) -> None:
        super().__init__(service_name, metrics, instance_index)
        self._core = TransportCore(service_name, self.metrics, kwargs, SERVER_SETTINGS_SCHEMA, server=True)
        self._core.codec.sizes = self.message_sizes
        self._request_key = request_queue_key(service_name)
        self._checked_backend = False
        # The BLPOP for the next request, written behind the last reply's push (one round trip for both).
        self._pending: PendingPop | None = None
        self._expires_in = float(self._core.options.message_expiry_in_seconds)
        self._ttl_seconds = redis_ttl_seconds(self._expires_in, False)
        self._capacity = self._core.options.queue_capacity
        self._default_mime_type = self._core.default_serializer.mime_type
        # The framing of the usual reply (to a soa-core client, in the default content type).
        self._default_frame_prefix = frame_prefix(DEFAULT_PROTOCOL_VERSION, self._default_mime_type)
        # reply_to -> its Redis key: the same few clients' threads are answered over and over, and a key kept is
        # hashed once (every lookup of a new string hashes it anew). Bounded: cleared when it grows past the limit.
        self._reply_keys: dict[str, str] = {}

    def _reply_key(self, reply_to: str) -> str:
        key = self._reply_keys.get(reply_to)
        if key is None:
            if len(self._reply_keys) >= _REPLY_KEYS_KEPT:
                self._reply_keys.clear()
            key = self._reply_keys[reply_to] = queue_key(reply_to)
        return key

    # --- receiving ------------------------------------------------------------------------------

    def receive_request_message(self) -> ReceivedMessage:
        if not self._checked_backend:
            self.check_startup()  # for callers that receive without the Server's start-up call
        core = self._core
        deadline = time.monotonic() + core.options.receive_timeout_in_seconds
        key = self._request_key
        pending, self._pending = self._pending, None
        if pending is not None and not pending.inherited:
            data = core.backend.finish_pop(pending, deadline, pending.ends_at + _STALL_MARGIN_SECONDS, for_caller=False)
            if data is not None:
                message = self._interpret(data, pending.index)
                if message is not None:
                    return message
        while deadline - time.monotonic() >= MIN_BLOCK_SECONDS:
            # Each receive moves to the next host (PySOA's round-robin), so every host is served.
            index = core.backend.host_for(key, "receive", deadline)
            several = (core.backend.host_count or 1) > 1
            data = core.pop(index, key, deadline, _MULTI_HOST_BLOCK_SECONDS if several else None)
            if data is None:
                continue
            message = self._interpret(data, index)
            if message is not None:
                return message
        raise MessageReceiveTimeout(f"No request for {self.service_name!r} arrived")

    def _interpret(self, data: bytes, index: int) -> ReceivedMessage | None:
        """Turn a frame into a request; ``None`` if it expired. Raises :class:`InvalidMessageError`."""
        core = self._core
        try:
            frame = parse(data)
            if frame.chunk_count is not None:
                raise InvalidMessageError("Chunked requests are not supported")
            limit = core.decode_limit
            if limit is not None and len(frame.payload) > limit:  # check_frame_size's test, without the call
                try:
                    core.check_frame_size(frame)
                except RequestTooLarge as exc:
                    self._address_refusal(exc, frame, index)
                    return None  # it had expired
            content_type = frame.content_type
            envelope = core.codec.decode(frame.payload, content_type)
            meta = envelope.meta
            if meta is not None:
                if core.is_expired(index, meta):
                    core.count("receive.expired")
                    _logger.debug("Dropped an expired request %r", envelope.request_id)
                    return None
                # Remembered for the reply, so even a fallback error reply speaks the client's framing. The default
                # content type (the usual one) is its own serializer's: no lookup.
                meta[PROTOCOL_VERSION_META_KEY] = frame.version
                if content_type != self._default_mime_type:
                    content_type = core.serializer_for(content_type).mime_type
                meta[CONTENT_TYPE_META_KEY] = content_type
                # A reply queue answered before passed validate_request's test of it (only such are kept): a request
                # with an id and a map body to it passes all its tests. Any other goes through them, for their errors.
                reply_to = meta.get("reply_to")
                if (
                    type(reply_to) is not str
                    or reply_to not in self._reply_keys
                    or envelope.request_id is None
                    or type(envelope.body) is not dict
                ):
                    validate_request(envelope, self.service_name)
            else:
                validate_request(envelope, self.service_name)
        except InvalidMessageError:
            core.count("receive.invalid_message")
            raise
        assert meta is not None
        # One per request: the tuple is built without the named tuple's Python-level __new__.
        return _new_tuple(ReceivedMessage, (envelope.request_id, meta, envelope.body))

    def _address_refusal(self, refusal: RequestTooLarge, frame: Frame, index: int) -> None:
        """Raise ``refusal`` with where to answer when the envelope's head says so; return if it expired.

        Only the head (request id and meta) is read, never the body, and only with a serializer that
        can read it in part (MessagePack): the caller then gets an error instead of a timeout.
        """
        core = self._core
        serializer = core.serializer_for(frame.content_type)
        head = serializer.envelope_head(frame.payload)
        if head is None:
            raise refusal
        request_id, meta = head
        if core.is_expired(index, meta):
            core.count("receive.expired")
            return
        if request_id is None or not is_valid_reply_to(meta.get("reply_to"), self.service_name):
            raise refusal
        meta[PROTOCOL_VERSION_META_KEY] = frame.version
        meta[CONTENT_TYPE_META_KEY] = serializer.mime_type
        raise RequestTooLarge(str(refusal), request_id=request_id, meta=meta)

    # --- sending ----------------------------------------------------------------------------------

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        if request_id is None:
            raise InvalidMessageError("No request ID")
        reply_to = meta.get("reply_to")
        # A reply queue answered before was valid then (only valid ones are kept): checked again only when new.
        key = self._reply_keys.get(reply_to) if type(reply_to) is str else None
        if key is None:
            if not is_valid_reply_to(reply_to, self.service_name):
                raise InvalidMessageError(
                    f"Refusing to reply to {str(reply_to)[:100]!r}: not a reply queue of {self.service_name!r}"
                )
            key = self._reply_key(reply_to)
        core, backend, options = self._core, self._core.backend, self._core.options
        version = meta.get(PROTOCOL_VERSION_META_KEY, DEFAULT_PROTOCOL_VERSION)
        if version not in SUPPORTED_PROTOCOL_VERSIONS:
            version = DEFAULT_PROTOCOL_VERSION
        content_type = meta.get(CONTENT_TYPE_META_KEY)
        # The usual reply, in the default content type, takes the default serializer without a lookup.
        serializer = (
            core.default_serializer if content_type == self._default_mime_type else core.serializer_for(content_type)
        )
        expires_in = self._expires_in
        deadline = time.monotonic() + expires_in

        wire = wire_meta(meta)
        host = backend.single_host
        index = core.stamp_expiry(key, wire, expires_in)
        payload = core.encode(request_id, wire, body, serializer)
        threshold = options.chunk_messages_larger_than_bytes
        frames: Sequence[bytes]
        if threshold is not None and needs_chunks(len(payload), threshold):
            if version < CHUNKING_PROTOCOL_VERSION:
                raise MessageTooLarge(
                    len(payload),
                    f"Response of {len(payload)} bytes exceeds the chunking threshold of {threshold} bytes, "
                    f"but the client speaks protocol v{version}, which cannot carry chunks",
                )
            frames = build_frames(payload, version, serializer.mime_type, threshold)
            core.count("send.chunked")
        elif version == DEFAULT_PROTOCOL_VERSION and serializer is core.default_serializer:
            frames = (self._default_frame_prefix + payload,)
        else:
            frames = (frame_prefix(version, serializer.mime_type) + payload,)

        if index is None:
            index = backend.host_for(key, "send", deadline)
            host = backend.single_host
        # With one host the next receive pops where this reply goes: write that BLPOP behind the push.
        pending = None
        if host is not None and self._pending is None and len(frames) == 1:
            pending = backend.pending_pop(index, self._request_key, options.receive_timeout_in_seconds)
        if pending is None:
            core.push(index, key, frames, self._ttl_seconds, deadline)
        else:
            # The push with the pop behind it, made here rather than through core.push's general steps.
            try:
                pushed = backend.push_before(pending, key, frames[0], self._ttl_seconds, self._capacity, deadline)
            finally:
                if pending.alive:
                    self._pending = pending  # even if the push failed: Redis runs the pop anyway
                else:
                    backend.release_pop(pending)
            if not pushed:
                core.push_when_room(index, key, frames, self._ttl_seconds, deadline)

    def close(self) -> None:
        """End a pending pop; a request it took goes back to the head of the queue for another worker."""
        pending, self._pending = self._pending, None
        if pending is None or pending.inherited:
            return
        try:
            data = self._core.backend.release_pop(pending)
            if data is not None:
                self._core.backend.push_back(pending.index, self._request_key, data)
        except TransportError as exc:
            _logger.error("A request taken at shutdown could not be handed back to Redis: %s", exc)

    # --- start-up -----------------------------------------------------------------------------------

    def check_startup(self) -> None:
        """Log in to every Redis host and try, harmlessly, each command this server will run.

        Raises :class:`~pysoa.errors.ConfigurationError` with one line naming a refused login, a
        TLS failure or a missing ACL right (see :mod:`soa_redis._preflight`). Also learns each
        host's clock and warns when Redis may evict queues.
        """
        self._checked_backend = True
        backend = self._core.backend
        if isinstance(backend, RedisClusterBackend):
            check_cluster_backend(backend, self.service_name, report_skipped=self.instance_index == 1)
            return
        check_server_backend(
            backend,
            self.service_name,
            chunking=self._core.options.chunk_messages_larger_than_bytes is not None,
            report_skipped=self.instance_index == 1,
        )
