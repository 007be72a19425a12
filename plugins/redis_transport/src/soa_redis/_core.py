"""What the client and server transports share: settings, serializers, encoding, bounded send and receive."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.serializer.base import Serializer
from pysoa.common.transport.message import EnvelopeCodec, SerializerRegistry
from pysoa.errors import (
    ConfigurationError,
    InvalidMessageError,
    MessageSendError,
    MessageTooLarge,
    RequestTooLarge,
)
from pysoa.plugins import get_plugin_manager
from soa_redis._backend import MAX_BLOCK_SECONDS, MIN_BLOCK_SECONDS, PendingPop, RedisBackend, get_backend
from soa_redis._cluster import RedisClusterBackend
from soa_redis._config import TransportOptions, backend_config, transport_options
from soa_redis._envelope import REDIS_EXPIRY_META_KEY, is_expired, stamp_expiry
from soa_redis._framing import ChunkAssembly, Frame, FrameError, parse_frame
from soa_redis._retry import next_delay

__all__ = ["TransportCore", "parse"]

_oversize_logger = logging.getLogger("pysoa.transport.oversized_message")

# How late Redis may report a BLPOP timeout: its event loop checks timeouts once per tick (hz 10).
_REDIS_TICK_SECONDS: Final = 0.1
# The last stretch before a deadline (about one tick) is polled this often: a response arriving
# then waits at most this long, and a timed-out call costs at most ~50 LPOP round trips.
_POLL_SECONDS: Final = 0.002
# A BLPOP shorter than this is not worth it; the poll takes over.
_SHORTEST_BLOCK_SECONDS: Final = 0.01
# How long after its deadline a wait may still read Redis's answer before Redis counts as stalled.
_LATE_SECONDS: Final = 0.05
# How long after a blocking pop should have ended Redis may answer it when no deadline is near.
_STALL_MARGIN_SECONDS: Final = 1.0


def parse(data: bytes) -> Frame:
    """A Redis frame read; :class:`InvalidMessageError` for one that is malformed (the sync and async sides')."""
    try:
        return parse_frame(data)
    except FrameError as exc:
        raise InvalidMessageError(f"Malformed Redis frame: {exc}") from exc


class TransportCore:
    """Settings, serializers and the Redis backend of one transport, plus the steps both sides take."""

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder,
        settings: Mapping[str, Any],
        schema: Any,
        server: bool,
    ) -> None:
        errors = schema.errors(dict(settings))
        if errors:
            details = "; ".join(f"{e.pointer + ': ' if e.pointer else ''}{e.message}" for e in errors)
            raise ConfigurationError(f"Invalid Redis transport settings for service {service_name!r}: {details}")
        self.service_name = service_name
        self.metrics = metrics
        self.options: TransportOptions = transport_options(settings, server)
        self.backend: RedisBackend | RedisClusterBackend = get_backend(backend_config(settings))
        self.role: Final = "server" if server else "client"
        reference = self.options.default_serializer
        try:
            self.default_serializer: Serializer = reference["object"](**reference["kwargs"])
        except TypeError as exc:
            raise ConfigurationError(f"Invalid default_serializer_config kwargs: {exc}") from exc
        # The server refuses requests above its maximum before decoding them; a client reads
        # whatever size of response its servers were configured to send.
        self.decode_limit = self.options.maximum_message_size_in_bytes if server else None
        self.codec = EnvelopeCodec(
            SerializerRegistry(
                self.default_serializer, self.decode_limit, get_plugin_manager().serializer_for_mime_type
            ),
            self.options.maximum_message_size_in_bytes,
            f"service {service_name!r}",
        )
        # The shared registry's policy: unknown content types decode with the default, uncached.
        self.serializer_for = self.codec.serializers.serializer_for
        self._oversize_threshold = self.options.log_messages_larger_than_bytes

    def count(self, name: str) -> None:
        self.metrics.counter(f"transport.redis.{self.role}.{name}").increment()

    # --- outgoing ---------------------------------------------------------------------------------

    def encode(self, request_id: Any, meta: dict[str, Any], body: Any, serializer: Serializer) -> bytes:
        """Serialize an envelope. Raises ``EncodeError`` or :class:`MessageTooLarge`, both before any I/O."""
        try:
            payload = self.codec.encode(request_id, meta, body, serializer)
        except MessageTooLarge:
            self.count("send.too_large")
            raise
        size = len(payload)
        threshold = self._oversize_threshold
        if threshold and size > threshold:
            _oversize_logger.warning(
                "Oversized message sent for service %s (request %r): %d bytes (warning threshold %d)",
                self.service_name,
                request_id,
                size,
                threshold,
            )
        return payload

    def push(
        self,
        index: int,
        key: str,
        frames: Sequence[bytes],
        ttl_seconds: int,
        deadline: float,
        pending: PendingPop | None = None,
    ) -> None:
        """Push all frames atomically, retrying a full queue with backoff but never past ``deadline``.

        With ``pending`` (on host ``index``), a one-frame message's first attempt also writes that pop
        (:meth:`RedisBackend.push_before`); retries push alone.
        """
        capacity = self.options.queue_capacity
        if len(frames) > capacity:
            raise MessageSendError(f"Message needs {len(frames)} chunks but Redis queue {key} holds at most {capacity}")
        backend = self.backend
        if pending is not None and len(frames) == 1 and pending.index == index:
            pushed = backend.push_before(pending, key, frames[0], ttl_seconds, capacity, deadline)
        else:
            pushed = backend.push(index, key, frames, ttl_seconds, capacity, deadline)
        if not pushed:
            self.push_when_room(index, key, frames, ttl_seconds, deadline)

    def push_when_room(self, index: int, key: str, frames: Sequence[bytes], ttl_seconds: int, deadline: float) -> None:
        """After a first push found the queue full: retry with backoff (never past ``deadline``), or raise
        :class:`MessageSendError`. (Transports that made the first push themselves continue here.)"""
        capacity = self.options.queue_capacity
        backend = self.backend
        attempt = 0
        pushed = False
        while not pushed:
            delay = next_delay(attempt, self.options.queue_full_retries, deadline - time.monotonic())
            if delay is None:
                self.count("send.queue_full")
                raise MessageSendError(
                    f"Redis queue {key} was full after {attempt} retries "
                    f"(capacity {capacity}, on {self.backend.label(index)})"
                )
            self.count("send.queue_full_retry")
            time.sleep(delay)
            attempt += 1
            pushed = backend.push(index, key, frames, ttl_seconds, capacity, deadline)

    # --- incoming ---------------------------------------------------------------------------------

    def pop(
        self, index: int, key: str, deadline: float, longest_block: float | None = None, precise: bool = False
    ) -> bytes | None:
        """One bounded wait for a message (at most until ``deadline``, and ``longest_block``); ``None`` if
        nothing came.

        Redis notices a BLPOP's timeout only on its next event-loop tick (up to ``1/hz``, 100 ms by
        default, late). A ``precise`` wait (a caller's deadline) therefore blocks until one tick
        before ``deadline`` and polls the last stretch with LPOP: it ends within a few milliseconds
        of the deadline, never before. A Redis that does not answer at all is given up on shortly
        after ``deadline`` (after the block, plus a margin, for imprecise waits).
        """
        now = time.monotonic()
        remaining = deadline - now
        if remaining < (0 if precise else MIN_BLOCK_SECONDS):
            return None
        backend = self.backend
        if not precise:
            block = remaining if longest_block is None else min(remaining, longest_block)
            return backend.pop(index, key, block, deadline, now + block + _STALL_MARGIN_SECONDS, for_caller=False)
        if remaining > _REDIS_TICK_SECONDS + _SHORTEST_BLOCK_SECONDS:
            block = min(remaining - _REDIS_TICK_SECONDS, MAX_BLOCK_SECONDS)
            socket_deadline = min(now + block + _STALL_MARGIN_SECONDS, deadline + _LATE_SECONDS)
            return backend.pop(index, key, block, deadline, socket_deadline, for_caller=True)
        while True:
            data = backend.pop_now(index, key, deadline, deadline + _LATE_SECONDS)
            remaining = deadline - time.monotonic()
            if data is not None or remaining <= 0:
                return data
            time.sleep(min(_POLL_SECONDS, remaining))

    def check_frame_size(self, frame: Frame) -> None:
        """Raise :class:`RequestTooLarge` (without a reply address) for a frame above the decode limit."""
        if self.decode_limit is not None and len(frame.payload) > self.decode_limit:
            raise RequestTooLarge(
                f"Refused a request of {len(frame.payload)} bytes to {self.service_name!r}: the server's "
                f"maximum_message_size_in_bytes is {self.decode_limit}"
            )

    def reassemble(self, first: Frame, index: int, key: str, deadline: float) -> bytes | None:
        """Read the remaining chunks of a chunked message; ``None`` if they do not all arrive by ``deadline``."""
        try:
            assembly = ChunkAssembly(first)
            while not assembly.complete:
                data = self.pop(index, key, deadline, precise=True)
                if data is None:
                    # One pop waits at most one blocking slice (and stops a Redis tick early): only
                    # the deadline ends the wait for the rest.
                    if time.monotonic() < deadline:
                        continue
                    return None
                assembly.add(parse_frame(data))
            return assembly.payload()
        except FrameError as exc:
            raise InvalidMessageError(f"Malformed chunked message: {exc}") from exc

    def stamp_expiry(self, key: str, wire: dict[str, Any], expires_in: float) -> int | None:
        """Stamp ``wire``'s expiry for the host ``key`` goes to, in that host's Redis clock when it is known.

        Returns the host's index, or ``None`` while the host is still to be chosen: that choice may wait on I/O, so
        the sender makes it after encoding (a message that cannot be sent fails before Redis is touched).
        """
        backend = self.backend
        host = backend.single_host
        if host is not None:  # one host: nothing to choose, and its clock is at hand
            stamp_expiry(wire, expires_in, time.time(), host.clock_offset)
            return 0
        index = backend.known_host_for(key)
        stamp_expiry(wire, expires_in, time.time(), None if index is None else backend.clock_offset(index))
        return index

    def is_expired(self, index: int, meta: Mapping[str, Any], deadline: float | None = None) -> bool:
        # The Redis clock is only needed (and only measured) for messages from soa-core senders.
        if REDIS_EXPIRY_META_KEY not in meta:
            return is_expired(meta, time.time(), None)
        host = self.backend.single_host
        if host is not None and host.clock_fresh_until > time.monotonic():  # the usual case, without a lookup
            return is_expired(meta, time.time(), host.clock_offset)
        return is_expired(meta, time.time(), self.backend.fresh_clock_offset(index, deadline))
