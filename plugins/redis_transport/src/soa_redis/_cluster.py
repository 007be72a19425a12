"""Redis Cluster I/O: the operations of :class:`~soa_redis._backend.RedisBackend`, on a Redis Cluster.

The cluster is one logical host (index 0): redis-py's cluster client sends each command to the
master of its key's slot, so the transport's placement rules (round-robin request queues, ringed
reply queues) do not apply; every queue lives in its own slot, and a service's requests and a
client's replies are spread over the masters by their key's hash. Every operation is single-key
(``EVALSHA`` of the push script, ``BLPOP``), so nothing needs hash tags.

Safety rules, as for the other backends:

* redis-py retries nothing (``Retry(NoBackoff(), 0)``); it follows ``MOVED`` and ``ASK``
  redirects itself (the redirected command was not run) and refreshes the slot map after errors;
* this module retries, with backoff and only until the call's deadline, the failures that prove
  the command was not run: ``CLUSTERDOWN`` (failover in progress), a slot no master serves yet,
  redirects that did not settle, and a connection that could not be opened. A connection lost
  after the command was written is never retried: the push may have happened (a retry could
  duplicate the message) or the pop may have taken a message;
* commands use the configured ``socket_timeout``; blocking pops use a second cluster client whose
  socket timeout is the longest block plus that.

Every push (one frame or a chunked response's frames) runs the capacity-checked push script:
one round trip, atomic, and no cluster pipeline (redis-py resends a cluster pipeline's commands
after a connection error, which could duplicate a message).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar, cast

import redis.exceptions as redis_errors
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import Connection, SSLConnection

from pysoa.errors import ConfigurationError, TransportError
from soa_redis._backend import (
    _CLOCK_MAX_AGE_SECONDS,
    _HOUSEKEEPING_SECONDS,
    _PUSH_SCRIPT,
    MAX_BLOCK_SECONDS,
    MIN_BLOCK_SECONDS,
    PendingPop,
    _blocking_socket_timeout,
    _no_retry,
    _strip_retry_kwargs,
    _text,
)
from soa_redis._config import BackendConfig
from soa_redis._deadline import deadline_bounded, io_deadline
from soa_redis._errors import Direction, translate_redis_error
from soa_redis._retry import next_delay

__all__ = ["RedisClusterBackend"]

_logger = logging.getLogger(__name__)

_PUSH_SHA: Final = hashlib.sha1(_PUSH_SCRIPT.encode("utf-8")).hexdigest()
# How often, at most, redis-py re-reads the slot map after errors (its default is 1 s): a failover
# is noticed sooner, at the cost of one CLUSTER SLOTS per process per interval while it lasts.
_TOPOLOGY_REFRESH_SECONDS: Final = 0.5

T = TypeVar("T")


def _not_run(exc: BaseException) -> bool:
    """Whether ``exc`` proves the command never reached a Redis that could run it (so a retry is safe)."""
    if isinstance(exc, redis_errors.ClusterDownError | redis_errors.SlotNotCoveredError):
        return True
    if type(exc) is redis_errors.ClusterError:
        # "TTL exhausted": every attempt was answered with MOVED, ASK or TRYAGAIN, none was run.
        return True
    if isinstance(exc, redis_errors.RedisClusterUnreachableError) and exc.__cause__ is not None:
        return _not_run(exc.__cause__)
    if isinstance(
        exc,
        redis_errors.AuthenticationError | redis_errors.MaxConnectionsError | redis_errors.MaxClientsReachedError,
    ):
        return False
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        # redis-py tags the error with the connection the command was written on, or with the node
        # when no connection could be opened: only the latter proves nothing was sent.
        return isinstance(getattr(exc, "connection", None), ClusterNode)
    return False


# Only a pending pop this backend made could reach these methods, and it makes none (pending_pop is None).
_NO_PENDING_POPS: Final = "RedisClusterBackend makes no pending pops"


class _ClusterUnavailable(Exception):
    """The cluster client could not be built (no seed answered with a slot map); nothing was sent."""


class RedisClusterBackend:
    """A Redis Cluster behind the interface of :class:`~soa_redis._backend.RedisBackend` (one host, index 0)."""

    # Not one Redis but many masters: the transports' single-host shortcut (pops written behind pushes) is not for it.
    single_host: Final[None] = None

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self._label = "Redis Cluster (seeds " + ", ".join(f"{h['host']}:{h['port']}" for h in config.hosts) + ")"
        self._kwargs = _strip_retry_kwargs(config.connection_kwargs, "connection_kwargs")
        self._lock = threading.Lock()
        # (commands, blocking pops); built on first use, because building asks a seed for the slot map.
        self._clients: tuple[RedisCluster, RedisCluster] | None = None
        # Redis time minus local time (any master: cluster nodes keep their clocks in sync), and when.
        self._clock_offset: float | None = None
        self._clock_measured_at = 0.0

    # --- construction ---------------------------------------------------------------------------

    def _cluster_clients(self) -> tuple[RedisCluster, RedisCluster]:
        clients = self._clients
        if clients is not None:
            return clients
        with self._lock:
            if self._clients is None:
                command = self._make_client(self._kwargs.get("socket_timeout"))
                try:
                    blocking = self._make_client(_blocking_socket_timeout(self._kwargs.get("socket_timeout")))
                except BaseException:
                    command.close()
                    raise
                self._clients = (command, blocking)
            return self._clients

    def _make_client(self, socket_timeout: float | None) -> RedisCluster:
        seeds = [ClusterNode(host["host"], host["port"]) for host in self.config.hosts]  # type: ignore[no-untyped-call]
        # Every node's connections (slot-map refreshes included) honour the caller's io_deadline.
        connection_class = deadline_bounded(SSLConnection if self._kwargs.get("ssl") else Connection)
        try:
            return RedisCluster(
                startup_nodes=seeds,
                retry=_no_retry(),
                # Slots without a master (mid-failover) fail per command, retried below; not the whole client.
                require_full_coverage=False,
                topology_refresh_min_interval=_TOPOLOGY_REFRESH_SECONDS,
                **{**self._kwargs, "socket_timeout": socket_timeout, "connection_class": connection_class},
            )
        except TypeError as exc:
            raise ConfigurationError(f"Invalid Redis connection kwargs for {self._label}: {exc}") from exc
        except redis_errors.RedisClusterException as exc:
            if isinstance(exc.__cause__ or exc.__context__, redis_errors.AuthenticationError):
                raise redis_errors.AuthenticationError(str(exc)) from exc
            # redis-py reports a refused CLUSTER SLOTS as "Cluster mode is not enabled": it is an ACL right.
            refused = _refused_command(exc)
            if refused is not None:
                raise redis_errors.NoPermissionError(str(refused)) from exc
            raise _ClusterUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def startup_clients(self) -> tuple[RedisCluster, RedisCluster]:
        """The (commands, blocking pops) cluster clients, built now: for the server's start-up check."""
        return self._cluster_clients()

    @property
    def push_script_source(self) -> str:
        """The Lua push script every push on a cluster runs (``EVALSHA``, or ``EVAL`` to load it)."""
        return _PUSH_SCRIPT

    @property
    def push_script_sha(self) -> str:
        return _PUSH_SHA

    # --- pops written behind a push (RedisBackend's one-round-trip path): not on a cluster -------------

    def pending_pop(self, index: int, key: str, block: float) -> PendingPop | None:
        """Always ``None``: on a cluster the push and the pop may go to different masters (different
        slots), so they are never written together; the transports then push and pop separately."""
        return None

    def push_before(
        self, pending: PendingPop, key: str, frame: bytes, ttl_seconds: int, capacity: int, deadline: float
    ) -> bool:
        raise TypeError(_NO_PENDING_POPS)

    def finish_pop(
        self, pending: PendingPop, deadline: float, socket_deadline: float, for_caller: bool
    ) -> bytes | None:
        raise TypeError(_NO_PENDING_POPS)

    def wait_pop(self, pending: PendingPop, deadline: float, late: float) -> tuple[bool, bytes | None]:
        raise TypeError(_NO_PENDING_POPS)

    def release_pop(self, pending: PendingPop) -> bytes | None:
        raise TypeError(_NO_PENDING_POPS)

    def push_back(self, index: int, key: str, data: bytes) -> None:
        raise TypeError(_NO_PENDING_POPS)

    # --- host selection: one logical host ---------------------------------------------------------

    @property
    def host_count(self) -> int:
        return 1

    def known_host_for(self, key: str) -> int:
        return 0

    def host_for(self, key: str, direction: Direction, deadline: float) -> int:
        return 0

    def label(self, index: int) -> str:
        return self._label

    # --- clock ---------------------------------------------------------------------------------------

    def _record_clock(self, redis_seconds: float, sent_at: float, received_at: float) -> None:
        self._clock_offset = redis_seconds - (sent_at + received_at) / 2
        self._clock_measured_at = time.monotonic()

    def clock_offset(self, index: int) -> float | None:
        """Redis time minus local time as last measured, without I/O."""
        return self._clock_offset

    def fresh_clock_offset(self, index: int, deadline: float | None = None) -> float | None:
        """Like :meth:`clock_offset`, re-measured with ``TIME`` when old; ``None`` if Redis will not say.

        The measurement gives up at ``deadline`` (default: a few seconds from now).
        """
        if self._clock_offset is not None and time.monotonic() - self._clock_measured_at < _CLOCK_MAX_AGE_SECONDS:
            return self._clock_offset
        if deadline is None:
            deadline = time.monotonic() + _HOUSEKEEPING_SECONDS
        sent_at = time.time()
        try:
            with io_deadline(deadline):
                seconds, microseconds = self._cluster_clients()[0].time()
        except (redis_errors.RedisError, redis_errors.RedisClusterException, _ClusterUnavailable) as exc:
            _logger.debug("Cannot read the clock of %s: %s", self._label, exc)
            self._clock_measured_at = time.monotonic()
            return self._clock_offset
        self._record_clock(seconds + microseconds / 1e6, sent_at, time.time())
        return self._clock_offset

    # --- the two operations ---------------------------------------------------------------------------

    def push(
        self, index: int, key: str, frames: Sequence[bytes], ttl_seconds: int, capacity: int, deadline: float
    ) -> bool:
        """Atomically append all ``frames`` to ``key`` unless that would exceed ``capacity``; refresh its TTL.

        Returns ``False`` when the queue is full. Raises translated errors.
        """
        args: list[bytes | int] = [ttl_seconds, capacity, *frames]

        def attempt() -> bool:
            cluster = self._cluster_clients()[0]
            sent_at = time.time()
            try:
                result = cluster.evalsha(_PUSH_SHA, 1, key, *args)
            except redis_errors.NoScriptError:
                # Not run: this master (new after a failover, or restarted) has not cached the script yet.
                result = cluster.eval(_PUSH_SCRIPT, 1, key, *args)
            pushed, seconds, microseconds = cast(list[Any], result)
            self._record_clock(int(seconds) + int(microseconds) / 1e6, sent_at, time.time())
            return int(pushed) == 1

        return self._call("send", key, deadline, attempt)

    def pop(
        self, index: int, key: str, block: float, deadline: float, socket_deadline: float, for_caller: bool
    ) -> bytes | None:
        """BLPOP ``key`` for at most ``min(block, MAX_BLOCK_SECONDS)`` seconds; ``None`` if nothing came.

        ``deadline`` bounds connecting and retries; ``socket_deadline`` bounds the wait for Redis's
        answer (also when a slot move makes redis-py block again on the new owner). When Redis has
        not answered by then, the error is :class:`~pysoa.errors.MessageReceiveTimeout` if the wait
        is ``for_caller`` and that deadline has passed, else a connection error (Redis stalled).
        """
        longest = min(block, MAX_BLOCK_SECONDS)

        def attempt() -> bytes | None:
            # A retry after a backoff blocks only for what is left.
            wait = min(longest, deadline - time.monotonic())
            if wait < MIN_BLOCK_SECONDS:
                return None
            result = self._cluster_clients()[1].blpop([key], timeout=round(wait, 3))
            if result is None:
                return None
            return cast(bytes, result[1])

        return self._call("receive", key, deadline, attempt, socket_deadline, timeout_at_deadline=for_caller)

    def pop_now(self, index: int, key: str, deadline: float, socket_deadline: float) -> bytes | None:
        """LPOP ``key`` without blocking; ``None`` if it is empty. Redis silent past ``socket_deadline``
        (beyond the caller's ``deadline``): :class:`~pysoa.errors.MessageReceiveTimeout`."""

        def attempt() -> bytes | None:
            return cast("bytes | None", self._cluster_clients()[0].lpop(key))

        return self._call("receive", key, deadline, attempt, socket_deadline, timeout_at_deadline=True)

    def _call(
        self,
        direction: Direction,
        key: str,
        deadline: float,
        call: Callable[[], T],
        socket_deadline: float | None = None,
        timeout_at_deadline: bool = False,
    ) -> T:
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                with io_deadline(deadline if socket_deadline is None else socket_deadline):
                    return call()
            except (redis_errors.RedisError, redis_errors.RedisClusterException, _ClusterUnavailable) as exc:
                retry = isinstance(exc, _ClusterUnavailable) or _not_run(exc)
                delay = next_delay(attempt, self.config.cluster_failover_retries, deadline - time.monotonic())
                if not retry or delay is None:
                    now = time.monotonic()
                    out_of_time = timeout_at_deadline and now >= deadline
                    raise self._translate(exc, direction, key, out_of_time, now - started) from exc
                _logger.info("%s could not run a command for %s (%s); retrying in %.2f s", self._label, key, exc, delay)
                time.sleep(delay)
                attempt += 1

    def _translate(
        self, exc: Exception, direction: Direction, key: str, out_of_time: bool, waited: float
    ) -> TransportError:
        if not isinstance(exc, redis_errors.RedisError):
            # No master could be asked (no slot map, no master for the slot, no node reachable): nothing was sent.
            exc = redis_errors.ConnectionError(str(exc))
        return translate_redis_error(exc, direction, key, self._label, out_of_time, waited)

    # --- diagnostics ------------------------------------------------------------------------------------

    def eviction_policies(self) -> list[tuple[str, str, int]]:
        """``(master, maxmemory-policy, maxmemory)`` for each reachable master that would say."""
        deadline = time.monotonic() + _HOUSEKEEPING_SECONDS
        cluster = self._call("receive", "INFO", deadline, self._cluster_clients)[0]
        found = []
        for node in cluster.get_primaries():  # type: ignore[no-untyped-call]
            label = f"cluster master {node.name}"
            try:
                with io_deadline(deadline):
                    info = cluster.get_redis_connection(node).info("memory")
                found.append((label, _text(info["maxmemory_policy"]), int(info.get("maxmemory", 0))))
            except (redis_errors.RedisError, KeyError, ValueError) as exc:
                _logger.debug("Cannot read maxmemory-policy of %s: %s", label, exc)
        return found

    def close(self) -> None:
        clients = self._clients
        self._clients = None
        for client in clients or ():
            client.close()


def _refused_command(error: BaseException) -> redis_errors.NoPermissionError | None:
    """The ACL refusal somewhere in ``error``'s chain of causes (redis-py wraps it twice), if any."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, redis_errors.NoPermissionError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
