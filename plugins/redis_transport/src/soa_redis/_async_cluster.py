"""Redis Cluster I/O for the asyncio transport (:mod:`soa_redis._async`), on ``redis.asyncio.cluster``.

The same rules as the sync cluster backend (:mod:`soa_redis._cluster`):

* the cluster is one logical host: redis-py sends each command to the master of its key's slot and
  follows ``MOVED`` and ``ASK`` itself (a redirected command was not run); every command is
  single-key (the push script, ``BLPOP``), so nothing needs hash tags;
* redis-py retries nothing (``Retry(NoBackoff(), 0)``); this module retries, with backoff and only
  until the caller's deadline, the failures that prove the command was not run: ``CLUSTERDOWN``
  (failover in progress), a slot no master serves yet, redirects that did not settle, no slot map,
  and a connection that could not be opened. A connection lost after the command was written is
  never retried: the push may have happened (a retry could duplicate the message) or the pop may
  have taken a message;
* commands use the configured ``socket_timeout``; blocking pops use a second cluster client whose
  socket timeout is the longest block plus that.

redis.asyncio tags every connection error with the node, whether or not the command was written,
so the connections here mark the errors raised while opening them (:class:`_OpeningErrorsTagged`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import select
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, TypeVar, cast

import redis.exceptions as redis_errors
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from pysoa.errors import ConfigurationError, TransportError
from soa_redis._async_cancel import CancellationsKept
from soa_redis._backend import _blocking_socket_timeout
from soa_redis._cluster import _refused_command
from soa_redis._config import BackendConfig
from soa_redis._errors import Direction, translate_redis_error
from soa_redis._retry import next_delay

__all__ = ["AsyncRedisCluster"]

_logger = logging.getLogger(__name__)

# As in the sync backend: a failover is noticed sooner than redis-py's default of 1 s.
_TOPOLOGY_REFRESH_SECONDS: Final = 0.5
# How long past the end of a pop's block Redis may still answer it before it counts as stalled. A pop given up
# on drops its connection with whatever Redis handed it meanwhile, so this must cover more than Redis's own
# lateness (it notices a block's end on its next tick: up to 100 ms at the default hz) and an event loop busy
# with other work when the answer comes; as the sync transport's pops allow.
_STALL_MARGIN_SECONDS: Final = 1.0
# The marker set on a connection error raised before the command was written.
_NOT_SENT: Final = "soa_redis_not_sent"

T = TypeVar("T")


class _OpeningErrorsTagged(CancellationsKept, Connection):
    """A connection whose failures to open (connect, TLS, handshake) say that no command was sent.

    A pooled connection the server has closed meanwhile (its master died) is reopened before a
    command is written to it, as redis-py's sync pool does: the command then fails to open a
    connection, provably unsent and retried, instead of failing after its write. A cancellation during its
    I/O is not lost (:mod:`soa_redis._async_cancel`).
    """

    _opening = False

    async def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True) -> None:
        self._opening = True
        try:
            await super().connect_check_health(check_health, retry_socket_connect)
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            setattr(exc, _NOT_SENT, True)
            raise
        finally:
            self._opening = False

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        # Not during the handshake (its commands are written by connect itself).
        if self.is_connected and not self._opening and self._closed_by_server():
            await self.disconnect()
        await super().send_packed_command(command, check_health)

    def _closed_by_server(self) -> bool:
        """Whether an idle connection has input before a command is written: the server closed it."""
        transport = self._writer.transport if self._writer is not None else None
        if transport is None or transport.is_closing() or (self._reader is not None and self._reader.at_eof()):
            return True
        if isinstance(self, SSLConnection):
            # TLS records (session tickets) may be pending on a healthy socket: only the loop's view counts.
            return False
        sock = transport.get_extra_info("socket")
        if sock is None:
            return False
        # The event loop may not have seen the close yet: ask the socket itself, without reading.
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)


class _SSLOpeningErrorsTagged(SSLConnection, _OpeningErrorsTagged):
    """The TLS variant of :class:`_OpeningErrorsTagged`."""


def _not_run(exc: BaseException) -> bool:
    """Whether ``exc`` proves the command never reached a Redis that could run it (so a retry is safe)."""
    if isinstance(exc, redis_errors.ClusterDownError | redis_errors.SlotNotCoveredError):
        return True
    if type(exc) is redis_errors.ClusterError:
        # "TTL exhausted": every attempt was answered with MOVED, ASK or TRYAGAIN, none was run.
        return True
    if isinstance(exc, redis_errors.RedisClusterUnreachableError):
        # No node gave a slot map; redis-py raises it also for a command's own error (its cause).
        return exc.__cause__ is None or _not_run(exc.__cause__)
    if isinstance(exc, redis_errors.AuthenticationError):
        return False
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return bool(getattr(exc, _NOT_SENT, False))
    return False


class AsyncRedisCluster:
    """A Redis Cluster's two clients (commands, blocking pops) and the two operations the transport runs."""

    def __init__(self, config: BackendConfig, connection_kwargs: Mapping[str, Any], push_script: str) -> None:
        self.config = config
        self.label = "Redis Cluster (seeds " + ", ".join(f"{h['host']}:{h['port']}" for h in config.hosts) + ")"
        self._push_script = push_script
        self._push_sha = hashlib.sha1(push_script.encode("utf-8")).hexdigest()
        command_timeout = connection_kwargs.get("socket_timeout")
        self._commands = self._make_client(connection_kwargs, command_timeout)
        self._blocking = self._make_client(connection_kwargs, _blocking_socket_timeout(command_timeout))

    def _make_client(self, kwargs: Mapping[str, Any], socket_timeout: float | None) -> RedisCluster:
        """A cluster client (no I/O: the slot map is read on first use) whose connections tag opening errors."""
        try:
            client = RedisCluster(
                startup_nodes=[ClusterNode(host["host"], host["port"]) for host in self.config.hosts],
                retry=Retry(NoBackoff(), 0),
                # Slots without a master (mid-failover) fail per command, retried here; not the whole client.
                require_full_coverage=False,
                topology_refresh_min_interval=_TOPOLOGY_REFRESH_SECONDS,
                **{**kwargs, "socket_timeout": socket_timeout},
            )
        except TypeError as exc:
            raise ConfigurationError(f"Invalid Redis connection kwargs for {self.label}: {exc}") from exc
        # RedisCluster takes no connection class: every node it builds later takes it from these kwargs,
        # and the seeds it built already are given it before they open any connection.
        tagged = _SSLOpeningErrorsTagged if kwargs.get("ssl") else _OpeningErrorsTagged
        client.connection_kwargs["connection_class"] = tagged
        for node in client.nodes_manager.startup_nodes.values():
            node.connection_class = tagged
        return client

    async def push(self, key: str, frames: Sequence[bytes], ttl_seconds: int, capacity: int, deadline: float) -> bool:
        """Run the push script on ``key``'s master; ``False`` if the queue is full. Never past ``deadline``."""
        args: list[bytes | int] = [ttl_seconds, capacity, *frames]

        async def attempt() -> bool:
            try:
                result = await self._commands.evalsha(self._push_sha, 1, key, *args)
            except redis_errors.NoScriptError:
                # Not run: this master (new after a failover, or restarted) has not cached the script yet.
                result = await self._commands.eval(self._push_script, 1, key, *args)
            return int(result) == 1

        return await self._call("send", key, deadline, attempt)

    async def pop(self, key: str, block: float, deadline: float) -> bytes | None:
        """BLPOP ``key`` for at most ``block`` seconds (at least 1 ms); ``None`` if nothing came.

        Failures that prove nothing was popped are retried until ``deadline``, each retry blocking
        only for what is left.
        """

        async def attempt() -> bytes | None:
            wait = max(min(block, deadline - time.monotonic()), 0.001)
            result = await self._blocking.blpop([key], timeout=round(wait, 3))
            return None if result is None else cast(bytes, result[1])

        try:
            # The socket timeout of blocking pops is far longer than one block: a master that stopped
            # answering without closing its sockets, or a topology refresh that hangs, must not hold
            # the caller for that long.
            async with asyncio.timeout_at(deadline + _STALL_MARGIN_SECONDS):
                return await self._call("receive", key, deadline, attempt)
        except TimeoutError:
            # Redis stalled: nothing came (a message it hands the pop from now on is lost with the
            # dropped connection; only a stalled Redis risks that).
            return None

    async def _call(self, direction: Direction, key: str, deadline: float, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                return await call()
            except (redis_errors.RedisError, redis_errors.RedisClusterException) as exc:
                refused = _refused_command(exc)
                retry = refused is None and _not_run(exc)
                delay = next_delay(attempt, self.config.cluster_failover_retries, deadline - time.monotonic())
                if not retry or delay is None:
                    raise self._translate(refused or exc, direction, key, time.monotonic() - started) from exc
                _logger.info("%s could not run a command for %s (%s); retrying in %.2f s", self.label, key, exc, delay)
                await asyncio.sleep(delay)
                attempt += 1

    def _translate(self, exc: Exception, direction: Direction, key: str, waited: float) -> TransportError:
        if not isinstance(exc, redis_errors.RedisError):
            # No master could be asked (no slot map, no master for the slot, no node reachable): nothing was sent.
            exc = redis_errors.ConnectionError(str(exc))
        return translate_redis_error(exc, direction, key, self.label, waited=waited)

    async def aclose(self) -> None:
        for client in (self._commands, self._blocking):
            await client.aclose()
