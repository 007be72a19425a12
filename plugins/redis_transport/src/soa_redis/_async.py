"""The Redis transport on redis-py's asyncio API, for :class:`~pysoa.client.AsyncClient` and concurrent workers.

Same settings, queues and wire protocol as the sync transport (docs/protocol.md): PySOA 1.4 and
sync soa-core peers talk to it unchanged. What differs:

* a client transport has one reply queue, ``service.<name>.<32 hex>!<hex>``, shared by every task
  of its :class:`~pysoa.client.AsyncClient` (the client routes replies by request id);
* every Redis step of a send runs under the caller's deadline (``asyncio.timeout_at``), so a slow or
  silent Redis never stretches a call; a receive is bounded by the client's own wait;
* message expiry is checked against the local clock (``__expiry__``), without measuring the Redis
  clock: the pair a sync soa-core sender adds is honoured through its ``__expiry__``;
* with Sentinel, the service names must be configured (masters are not discovered); failover is
  followed on the next connection, without the sync transport's retries;
* with Redis Cluster (``cluster`` settings or ``backend_type: redis.cluster``), the cluster is one logical
  host, as in the sync transport, and failover is waited out within the caller's deadline
  (:mod:`soa_redis._async_cluster`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, Final

import redis.asyncio as aioredis
import redis.exceptions as redis_errors
from conformity import fields
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

from pysoa.common.log_limit import RateLimitedLogger
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.async_base import AsyncClientTransport, AsyncServerTransport, IncomingRequest
from pysoa.common.transport.base import ReceivedMessage, get_hex_thread_id
from pysoa.common.transport.message import Envelope, EnvelopeCodec, ReplyRoute, SerializerRegistry, expiry_seconds
from pysoa.errors import (
    ConfigurationError,
    InvalidMessageError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
    MessageTooLarge,
    RequestTooLarge,
)
from pysoa.plugins import get_plugin_manager
from soa_redis._async_cancel import keep_cancellations
from soa_redis._async_cluster import AsyncRedisCluster
from soa_redis._async_lane import PopConnection, PushPipeline
from soa_redis._config import CLIENT_SETTINGS_SCHEMA, SERVER_SETTINGS_SCHEMA, backend_config, transport_options
from soa_redis._core import parse
from soa_redis._envelope import (
    is_expired,
    is_valid_reply_to,
    make_reply_to,
    queue_key,
    redis_ttl_seconds,
    request_queue_key,
    stamp_expiry,
    validate_request,
    validate_response,
    wire_meta,
)
from soa_redis._errors import Direction, translate_redis_error
from soa_redis._framing import (
    CHUNKING_PROTOCOL_VERSION,
    DEFAULT_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    ChunkAssembly,
    Frame,
    FrameError,
    build_frames,
    needs_chunks,
    parse_frame,
)
from soa_redis._retry import next_delay
from soa_redis._ring import RoundRobin, is_reply_queue_key, reply_queue_host_index

__all__ = ["AsyncRedisClientTransport", "AsyncRedisServerTransport"]

_logger = logging.getLogger(__name__)
_dropped_log = RateLimitedLogger(_logger)

_RETRY_KWARGS: Final = ("retry", "retry_on_timeout", "retry_on_error")
# The longest single BLPOP (a longer wait takes several); also sizes the blocking socket timeout.
_MAX_BLOCK_SECONDS: Final = 5.0
# With several hosts a worker blocks on one at a time; short blocks keep the others served.
_MULTI_HOST_BLOCK_SECONDS: Final = 0.5
# The most replies one round trip takes off a client's reply queue (its sole reader) after the first: a burst
# of concurrent calls' responses is read at once, not one round trip each.
_REPLIES_PER_POP: Final = 128
# How long the rest of a chunked response may take to arrive after its first chunk.
_CHUNK_WAIT_SECONDS: Final = 5.0

# KEYS[1] = queue; ARGV = ttl, capacity, frame 1..n: all frames or none, contiguous, TTL refreshed.
_PUSH_SCRIPT: Final = """
if redis.call('LLEN', KEYS[1]) + #ARGV - 2 > tonumber(ARGV[2]) then
    return 0
end
for i = 3, #ARGV do
    redis.call('RPUSH', KEYS[1], ARGV[i])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


class _AsyncRedis:
    """Settings, codec and the Redis hosts of one async transport, plus the steps both sides take."""

    def __init__(self, service_name: str, metrics: MetricsRecorder, settings: Mapping[str, Any], server: bool) -> None:
        schema = SERVER_SETTINGS_SCHEMA if server else CLIENT_SETTINGS_SCHEMA
        errors = schema.errors(dict(settings))
        if errors:
            details = "; ".join(f"{e.pointer + ': ' if e.pointer else ''}{e.message}" for e in errors)
            raise ConfigurationError(f"Invalid Redis transport settings for service {service_name!r}: {details}")
        self.service_name = service_name
        self.metrics = metrics
        self.role: Final = "server" if server else "client"
        self.options = transport_options(settings, server)
        config = backend_config(settings)
        self.cluster: AsyncRedisCluster | None = None
        if config.sentinel and config.sentinel_services is None:
            raise ConfigurationError(
                f"The async Redis transport of service {service_name!r} needs the Sentinel service names "
                "(sentinel.services, or sentinel_services in backend_layer_kwargs): it does not discover masters"
            )
        reference = self.options.default_serializer
        try:
            default = reference["object"](**reference["kwargs"])
        except TypeError as exc:
            raise ConfigurationError(f"Invalid default_serializer_config kwargs: {exc}") from exc
        # A server refuses requests above its maximum before decoding them; a client reads any size.
        self.decode_limit = self.options.maximum_message_size_in_bytes if server else None
        self.codec = EnvelopeCodec(
            SerializerRegistry(default, self.decode_limit, get_plugin_manager().serializer_for_mime_type),
            self.options.maximum_message_size_in_bytes,
            f"service {service_name!r}",
        )
        self.commands: list[aioredis.Redis] = []
        self.blocking: list[aioredis.Redis] = []
        self._sentinel: Sentinel | None = None
        if config.sentinel:
            assert config.sentinel_services is not None
            sentinel = self._sentinel = Sentinel(
                [(host["host"], host["port"]) for host in config.hosts],
                sentinel_kwargs={**_without_retries(config.sentinel_kwargs), "retry": Retry(NoBackoff(), 0)},
            )
            for node in sentinel.sentinels:
                # A new connection to a master first asks the Sentinels for it, on these clients.
                keep_cancellations(node.connection_pool)
            self.labels = tuple(f"sentinel service {name!r}" for name in config.sentinel_services)
            for name, label in zip(config.sentinel_services, self.labels, strict=True):
                # The master is looked up through the Sentinels on each new connection (no I/O here).
                self._add_host(functools.partial(_master_for, sentinel, name), config.connection_kwargs, label)
        elif config.cluster:
            # One logical host: the cluster client finds each queue's master by its key's slot.
            kwargs = {**_without_retries(config.connection_kwargs)}
            self.cluster = AsyncRedisCluster(config, kwargs, _PUSH_SCRIPT)
            self.labels = (self.cluster.label,)
        else:
            self.labels = config.labels
            for host, label in zip(config.hosts, config.labels, strict=True):
                self._add_host(_standard, host, label)
        self.host_count = len(self.labels)
        self._round_robin = RoundRobin(self.host_count)
        # The per-call commands run on connections of their own (soa_redis._async_lane), outside the clients' pools.
        self._pushers = [PushPipeline(client.connection_pool.make_connection, _PUSH_SCRIPT) for client in self.commands]
        self._poppers = [PopConnection(client.connection_pool.make_connection) for client in self.blocking]

    def _add_host(
        self, make: Callable[[dict[str, Any]], aioredis.Redis], kwargs: Mapping[str, Any], label: str
    ) -> None:
        """Two clients for one host: commands with the configured socket timeout, blocking pops with a longer one."""
        # No automatic retries: a retried push could duplicate a message, a retried pop lose one.
        kwargs = {**_without_retries(kwargs), "retry": Retry(NoBackoff(), 0)}
        command_timeout = kwargs.get("socket_timeout")
        blocking_timeout = None if command_timeout is None else _MAX_BLOCK_SECONDS + max(1.0, command_timeout)
        try:
            commands, blocking = make(kwargs), make({**kwargs, "socket_timeout": blocking_timeout})
        except TypeError as exc:
            raise ConfigurationError(f"Invalid Redis connection kwargs for {label}: {exc}") from exc
        for client in (commands, blocking):
            # Whatever class the pool chose (TCP, TLS, Unix socket, Sentinel-managed); nothing is connected yet.
            keep_cancellations(client.connection_pool)
        self.commands.append(commands)
        self.blocking.append(blocking)

    def count(self, name: str) -> None:
        self.metrics.counter(f"transport.redis.{self.role}.{name}").increment()

    def host_for(self, key: str) -> int:
        count = self.host_count
        if count == 1:
            return 0
        if is_reply_queue_key(key):
            return reply_queue_host_index(key, count)
        return self._round_robin.next()

    async def push(self, key: str, frames: Sequence[bytes], ttl_seconds: int, deadline: float) -> None:
        """Push all frames at once, retrying a full queue with backoff; never past ``deadline``."""
        capacity = self.options.queue_capacity
        if len(frames) > capacity:
            raise MessageSendError(f"Message needs {len(frames)} chunks but Redis queue {key} holds at most {capacity}")
        index = self.host_for(key)
        attempt = 0
        while True:
            try:
                if self.cluster is not None:
                    async with asyncio.timeout_at(deadline):
                        pushed = await self.cluster.push(key, frames, ttl_seconds, capacity, deadline)
                else:
                    pushed = await self._pushers[index].push(key, frames, ttl_seconds, capacity, deadline)
            except TimeoutError:
                raise MessageSendTimeout(
                    f"Redis at {self.labels[index]} did not take the message for {key!r} before the deadline"
                ) from None
            except redis_errors.RedisError as exc:
                raise self._translate(exc, "send", key, index) from exc
            if pushed:
                return
            delay = next_delay(attempt, self.options.queue_full_retries, deadline - time.monotonic())
            if delay is None:
                self.count("send.queue_full")
                raise MessageSendError(
                    f"Redis queue {key} was full after {attempt} retries (capacity {capacity}, on {self.labels[index]})"
                )
            self.count("send.queue_full_retry")
            await asyncio.sleep(delay)
            attempt += 1

    async def pop(self, index: int, key: str, block: float) -> bytes | None:
        """One BLPOP of at most ``block`` seconds (at least 1 ms); ``None`` if nothing came."""
        popped = await self.pop_many(index, key, block, 0)
        return popped[0] if popped else None

    async def pop_many(self, index: int, key: str, block: float, drain: int) -> list[bytes]:
        """One BLPOP of at most ``block`` seconds, then up to ``drain`` more from ``key`` (for its sole reader)."""
        block = min(block, _MAX_BLOCK_SECONDS)
        if self.cluster is not None:
            # Retries what was not run (failover) until the end of this block, already translated.
            data = await self.cluster.pop(key, block, time.monotonic() + block)
            return [] if data is None else [data]
        try:
            return await self._poppers[index].pop(key, block, drain)
        except redis_errors.RedisError as exc:
            raise self._translate(exc, "receive", key, index) from exc

    def _translate(self, exc: Exception, direction: Direction, key: str, index: int) -> Exception:
        return translate_redis_error(exc, direction, key, self.labels[index])

    async def reassemble(self, first: Frame, key: str, pop: Callable[[float], Awaitable[bytes | None]]) -> bytes:
        """Read the remaining chunks of a chunked message from ``key`` with ``pop`` (a blocking pop of its queue)."""
        deadline = time.monotonic() + _CHUNK_WAIT_SECONDS
        try:
            assembly = ChunkAssembly(first)
            while not assembly.complete:
                left = deadline - time.monotonic()
                data = await pop(left) if left > 0 else None
                if data is None:
                    raise InvalidMessageError(
                        f"A chunked message on {key} was incomplete after {_CHUNK_WAIT_SECONDS} s"
                    )
                assembly.add(parse_frame(data))
            return assembly.payload()
        except FrameError as exc:
            raise InvalidMessageError(f"Malformed chunked message: {exc}") from exc

    async def aclose(self) -> None:
        if self.cluster is not None:
            await self.cluster.aclose()
        for pusher in self._pushers:
            await pusher.aclose()
        for popper in self._poppers:
            await popper.aclose()
        for client in (*self.commands, *self.blocking):
            await client.aclose()
        if self._sentinel is not None:
            for node in self._sentinel.sentinels:
                await node.aclose()


def _standard(kwargs: dict[str, Any]) -> aioredis.Redis:
    return aioredis.Redis(**kwargs)


def _master_for(sentinel: Sentinel, service: str, kwargs: dict[str, Any]) -> aioredis.Redis:
    master: aioredis.Redis = sentinel.master_for(service, **kwargs)
    return master


def _without_retries(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kwargs.items() if key not in _RETRY_KWARGS}


class AsyncRedisClientTransport(AsyncClientTransport):
    """Client side of the Redis transport on asyncio; one reply queue for all the tasks of its client."""

    name: ClassVar[str] = "redis"
    settings_schema: ClassVar[fields.Base] = CLIENT_SETTINGS_SCHEMA

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None, **kwargs: Any) -> None:
        super().__init__(service_name, metrics)
        self._redis = _AsyncRedis(service_name, self.metrics, kwargs, server=False)
        self._redis.codec.sizes = self.message_sizes
        self.receive_timeout_in_seconds = self._redis.options.receive_timeout_in_seconds
        self.reply_to = make_reply_to(service_name, uuid.uuid4().hex, get_hex_thread_id())
        self._reply_key = queue_key(self.reply_to)
        self._reply_index = self._redis.host_for(self._reply_key)
        self._request_key = request_queue_key(service_name)
        # Replies taken off the reply queue and not yet read, in queue order.
        self._popped: deque[bytes] = deque()

    async def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        if request_id is None:
            raise InvalidMessageError("No request ID")
        redis, options = self._redis, self._redis.options
        expires_in, explicit = expiry_seconds(message_expiry_in_seconds, options.message_expiry_in_seconds)
        if expires_in <= 0:
            raise MessageSendTimeout(f"The call to {self.service_name!r} has no time left to send a request")
        deadline = time.monotonic() + expires_in
        wire = wire_meta(meta)
        wire["reply_to"] = self.reply_to
        stamp_expiry(wire, expires_in, time.time(), None)
        serializer = redis.codec.serializers.default
        try:
            payload = redis.codec.encode(request_id, wire, body, serializer)
        except MessageTooLarge:
            redis.count("send.too_large")
            raise
        frames = build_frames(payload, options.protocol_version, serializer.mime_type)
        await redis.push(self._request_key, frames, redis_ttl_seconds(expires_in, explicit), deadline)

    async def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        redis = self._redis
        timeout = receive_timeout_in_seconds or redis.options.receive_timeout_in_seconds
        deadline = time.monotonic() + timeout
        key = self._reply_key
        while True:
            data = await self._next_reply(deadline - time.monotonic())
            if data is None:
                if time.monotonic() < deadline:
                    continue
                raise MessageReceiveTimeout(f"nothing arrived from {self.service_name!r} in {timeout:.3f} s")
            envelope = await self._read(data, key)
            if envelope is None:
                continue
            try:
                validate_response(envelope)
            except InvalidMessageError as exc:
                redis.count("receive.invalid_message")
                _dropped_log.warning("Dropped an unusable response on reply queue %s: %s", key, exc)
                continue
            meta = envelope.meta or {}
            if is_expired(meta, time.time(), None):
                redis.count("receive.expired")
                continue
            return ReceivedMessage(envelope.request_id, meta, envelope.body)

    async def _next_reply(self, block: float) -> bytes | None:
        """The next frame on the reply queue, waiting at most ``block`` seconds; ``None`` if none came."""
        if self._popped:
            return self._popped.popleft()
        if block <= 0:
            return None
        popped = await self._redis.pop_many(self._reply_index, self._reply_key, block, _REPLIES_PER_POP)
        if not popped:
            return None
        self._popped.extend(popped[1:])
        return popped[0]

    async def _read(self, data: bytes, key: str) -> Envelope | None:
        redis = self._redis
        try:
            frame = parse(data)
            payload = await redis.reassemble(frame, key, self._next_reply) if frame.is_chunk else frame.payload
            return redis.codec.decode(payload, frame.content_type)
        except InvalidMessageError as exc:
            redis.count("receive.invalid_message")
            _dropped_log.warning("Dropped an unreadable message on reply queue %s: %s", key, exc)
            return None

    async def aclose(self) -> None:
        await self._redis.aclose()


class AsyncRedisServerTransport(AsyncServerTransport):
    """Server side of the Redis transport on asyncio: replies in each request's protocol version and content type."""

    name: ClassVar[str] = "redis"
    settings_schema: ClassVar[fields.Base] = SERVER_SETTINGS_SCHEMA

    def __init__(
        self, service_name: str, metrics: MetricsRecorder | None = None, instance_index: int = 1, **kwargs: Any
    ) -> None:
        super().__init__(service_name, metrics, instance_index)
        self._redis = _AsyncRedis(service_name, self.metrics, kwargs, server=True)
        self._redis.codec.sizes = self.message_sizes
        self._request_key = request_queue_key(service_name)

    async def receive_request_message(self) -> IncomingRequest:
        redis = self._redis
        deadline = time.monotonic() + redis.options.receive_timeout_in_seconds
        several = redis.host_count > 1
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MessageReceiveTimeout(f"No request for {self.service_name!r} arrived")
            index = redis.host_for(self._request_key)
            data = await redis.pop(index, self._request_key, min(left, _MULTI_HOST_BLOCK_SECONDS) if several else left)
            if data is not None:
                incoming = self._interpret(data)
                if incoming is not None:
                    return incoming

    def _interpret(self, data: bytes) -> IncomingRequest | None:
        """The request in a frame; ``None`` if it expired. Raises :class:`InvalidMessageError` when unanswerable."""
        redis = self._redis
        try:
            frame = parse(data)
            if frame.is_chunk:
                raise InvalidMessageError("Chunked requests are not supported")
            serializer = redis.codec.serializers.serializer_for(frame.content_type)
            framing = {"version": frame.version, "content_type": serializer.mime_type}
            limit = redis.decode_limit
            if limit is not None and len(frame.payload) > limit:
                return self._refuse_too_large(frame, framing, limit)
            envelope = redis.codec.decode(frame.payload, frame.content_type)
            meta = envelope.meta
            if meta is not None and is_expired(meta, time.time(), None):
                redis.count("receive.expired")
                return None
            try:
                validate_request(envelope, self.service_name)
            except InvalidMessageError as exc:
                if exc.request_id is None or exc.meta is None:
                    raise
                redis.count("receive.invalid_message")
                return IncomingRequest(exc.request_id, exc.meta, None, ReplyRoute(exc.meta["reply_to"], framing), exc)
        except InvalidMessageError:
            redis.count("receive.invalid_message")
            raise
        assert meta is not None
        return IncomingRequest(envelope.request_id, meta, envelope.body, ReplyRoute(meta["reply_to"], framing))

    def _refuse_too_large(self, frame: Frame, framing: dict[str, Any], limit: int) -> IncomingRequest | None:
        refusal = RequestTooLarge(
            f"Refused a request of {len(frame.payload)} bytes to {self.service_name!r}: the server's "
            f"maximum_message_size_in_bytes is {limit}"
        )
        head = self._redis.codec.serializers.serializer_for(frame.content_type).envelope_head(frame.payload)
        if head is None:
            raise refusal
        request_id, meta = head
        if is_expired(meta, time.time(), None):
            return None
        if request_id is None or not is_valid_reply_to(meta.get("reply_to"), self.service_name):
            raise refusal
        return IncomingRequest(request_id, meta, None, ReplyRoute(meta["reply_to"], framing), refusal)

    async def send_response_message(
        self, route: ReplyRoute, request_id: Any, meta: dict[str, Any], body: dict[str, Any]
    ) -> None:
        redis, options = self._redis, self._redis.options
        reply_to = route.address
        if not is_valid_reply_to(reply_to, self.service_name):
            raise InvalidMessageError(f"Refusing to reply to {str(reply_to)[:100]!r}: not a reply queue")
        version = route.framing.get("version", DEFAULT_PROTOCOL_VERSION)
        if version not in SUPPORTED_PROTOCOL_VERSIONS:
            version = DEFAULT_PROTOCOL_VERSION
        serializer = redis.codec.serializers.serializer_for(route.framing.get("content_type"))
        expires_in = float(options.message_expiry_in_seconds)
        deadline = time.monotonic() + expires_in
        wire = wire_meta(meta)
        stamp_expiry(wire, expires_in, time.time(), None)
        payload = redis.codec.encode(request_id, wire, body, serializer)
        threshold = options.chunk_messages_larger_than_bytes
        if needs_chunks(len(payload), threshold) and version < CHUNKING_PROTOCOL_VERSION:
            raise MessageTooLarge(
                len(payload),
                f"Response of {len(payload)} bytes exceeds the chunking threshold of {threshold} bytes, "
                f"but the client speaks protocol v{version}, which cannot carry chunks",
            )
        frames = build_frames(payload, version, serializer.mime_type, threshold)
        if len(frames) > 1:
            redis.count("send.chunked")
        await redis.push(queue_key(reply_to), frames, redis_ttl_seconds(expires_in, False), deadline)

    async def aclose(self) -> None:
        await self._redis.aclose()
