"""The async transport's per-call Redis commands, prepacked and written on connections the transport owns.

redis.asyncio's ``Redis`` methods cost more per command than the round trip itself: a pool checkout and release,
argument encoding, a retry wrapper, a timeout scope per write, observability hooks. The async transport's
per-call commands are few and fixed, so they are packed here by hand and written on redis-py connections (which
keep connecting, TLS, ACL login, Sentinel master lookup and the hiredis parser):

* :class:`PushPipeline` carries the push script of every task of a transport on **one** connection: commands
  made in one turn of the event loop go out in one write, and replies are matched to their callers in order
  (Redis answers a connection's commands in order), so 100 concurrent pushes cost one write, not 100 pool
  connections;
* :class:`PopConnection` runs one blocking pop at a time on its own connection; a reply queue's reader also
  takes, in the same round trip, what else is waiting on its queue (``BLPOP`` then ``LPOP key count``), so a
  burst of replies is read in one round trip instead of one each.

Nothing is retried after it may have run: a connection that fails with commands on it fails those commands
(redis-py's own errors, translated by the caller), and the next command opens a new connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import select
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis.exceptions as redis_errors
from redis.asyncio.connection import AbstractConnection

__all__ = ["PopConnection", "PushPipeline"]


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)


class _Session:
    """One connection of a :class:`PushPipeline`, with the commands written on it and not yet answered."""

    __slots__ = ("broken", "connection", "outgoing", "pending", "reader", "writer")

    def __init__(self, connection: AbstractConnection) -> None:
        self.connection = connection
        self.pending: deque[asyncio.Future[Any]] = deque()
        self.outgoing: list[bytes] = []
        self.writer: asyncio.Task[None] | None = None
        self.reader: asyncio.Task[None] | None = None
        self.broken = False

    def execute(self, packed: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append(future)
        self.outgoing.append(packed)
        # A task starts on the next turn of the loop: every command made until then goes out in its one write.
        if self.writer is None or self.writer.done():
            self.writer = loop.create_task(self._write())
        if self.reader is None or self.reader.done():
            self.reader = loop.create_task(self._read())
        return future

    async def _write(self) -> None:
        try:
            while self.outgoing and not self.broken:
                batch, self.outgoing = self.outgoing, []
                await self.connection.send_packed_command(batch, check_health=False)
        except Exception as exc:
            await self.fail(exc)

    async def _read(self) -> None:
        pending = self.pending
        try:
            while pending:
                try:
                    reply: Any = await self.connection.read_response(disconnect_on_error=True)
                except redis_errors.ResponseError as exc:
                    reply = exc  # an error reply: the connection is still in step
                future = pending.popleft()
                if future.done():
                    continue  # its caller gave up (deadline, cancellation): the reply goes nowhere
                if isinstance(reply, redis_errors.ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except Exception as exc:
            await self.fail(exc)

    async def fail(self, exc: Exception) -> None:
        """Fail every command on this connection (none of them is retried: each may have run) and drop it."""
        if self.broken:
            return
        self.broken = True
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(exc)
        await self.connection.disconnect(nowait=True)

    async def close(self) -> None:
        for task in (self.writer, self.reader):
            if task is not None and not task.done():
                task.cancel()
        await self.fail(redis_errors.ConnectionError("The transport was closed"))


class PushPipeline:
    """Runs soa-redis's push script for any number of tasks on one connection, pipelined."""

    __slots__ = ("_checking", "_heads", "_make_connection", "_script", "_session", "_sha")

    def __init__(self, make_connection: Callable[[], AbstractConnection], script: str) -> None:
        self._make_connection = make_connection
        self._script = script.encode("utf-8")
        self._sha = hashlib.sha1(self._script).hexdigest().encode("ascii")  # Redis names a script by its SHA-1
        self._session: _Session | None = None
        # Set while the connection is checked or opened; the other tasks wait for that rather than check too.
        self._checking: asyncio.Future[None] | None = None
        self._heads: dict[str, bytes] = {}

    async def push(self, key: str, frames: Sequence[bytes], ttl_seconds: int, capacity: int, deadline: float) -> bool:
        """Run the push script on ``key``: whether every frame was pushed (not when the queue was too full for them).

        Raises :class:`TimeoutError` at ``deadline`` (``time.monotonic()``), the push then maybe run or not.
        """
        args = (b"%d" % ttl_seconds, b"%d" % capacity, *frames)
        try:
            reply = await self._execute(self._evalsha(key, args), deadline)
        except redis_errors.NoScriptError:
            # The script was not run (Redis lost its scripts, e.g. a restart or SCRIPT FLUSH): load it and run it.
            await self._execute(_command(b"SCRIPT", b"LOAD", self._script), deadline)
            reply = await self._execute(self._evalsha(key, args), deadline)
        return int(reply) == 1

    def _evalsha(self, key: str, args: Sequence[bytes]) -> bytes:
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) > 1024:  # a server replies to many reply queues: do not grow without bound
                self._heads.clear()
            head = self._heads[key] = _bulk(b"EVALSHA") + _bulk(self._sha) + _bulk(b"1") + _bulk(key.encode("utf-8"))
        return b"".join((b"*%d\r\n" % (4 + len(args)), head, *(_bulk(arg) for arg in args)))

    async def _execute(self, packed: bytes, deadline: float) -> Any:
        session = self._session
        if session is None or session.broken or not session.pending:
            async with asyncio.timeout_at(deadline):
                session = await self._ready_session()
        future = session.execute(packed)
        # A timer failing the reply's future, not an asyncio.timeout scope per command (it costs more than the
        # command's share of the write); the reader drops a reply whose future is done.
        expiry = asyncio.get_running_loop().call_at(deadline, _expire, future)
        try:
            return await future
        finally:
            expiry.cancel()

    async def _ready_session(self) -> _Session:
        """A session fit to write on: an idle connection Redis closed meanwhile (restart, idle timeout) is replaced."""
        while self._checking is not None:
            await asyncio.shield(self._checking)
        session = self._session
        if session is not None and not session.broken and session.pending:
            return session  # another task checked it while this one waited
        self._checking = asyncio.get_running_loop().create_future()
        try:
            if session is not None and not session.broken and await _closed_or_dirty(session.connection):
                await session.fail(redis_errors.ConnectionError("Redis closed the idle connection"))
            if session is None or session.broken:
                connection = self._make_connection()
                # connect() itself: Sentinel-managed connections look their master up there.
                await connection.connect()  # type: ignore[no-untyped-call]
                session = self._session = _Session(connection)
            return session
        finally:
            self._checking.set_result(None)
            self._checking = None

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


async def _closed_or_dirty(connection: AbstractConnection) -> bool:
    """Whether an idle connection is unusable: closed by Redis, or holding data nobody asked for."""
    # can_read only sees what the event loop has read; a close that reached the socket since the loop's last poll
    # shows as a readable socket (redis-py has no public look at it). On TLS, a record the loop has not read yet
    # (a session ticket) also shows so: that costs one needless reconnect.
    writer = connection._writer
    sock = None if writer is None else writer.get_extra_info("socket")
    if sock is not None and select.select((sock,), (), (), 0)[0]:
        return True
    try:
        return await connection.can_read()
    except redis_errors.ConnectionError:
        return True


class PopConnection:
    """Blocking pops on one connection, one at a time."""

    __slots__ = ("_blpop_heads", "_connection", "_drain_unsupported", "_lock", "_make_connection")

    def __init__(self, make_connection: Callable[[], AbstractConnection]) -> None:
        self._make_connection = make_connection
        self._connection: AbstractConnection | None = None
        self._lock = asyncio.Lock()
        self._blpop_heads: dict[str, bytes] = {}
        # Set when Redis refuses LPOP with a count (before 6.2): a pop then takes one element.
        self._drain_unsupported = False

    async def pop(self, key: str, block: float, drain: int = 0) -> list[bytes]:
        """``BLPOP key block``, then up to ``drain`` more elements at once: what came, in queue order (maybe none).

        Only the sole consumer of a queue may drain it (a worker would take requests other workers could serve).
        """
        drain = 0 if self._drain_unsupported else drain
        packed = self._blpop(key, block)
        if drain:
            packed += _command(b"LPOP", key.encode("utf-8"), b"%d" % drain)
        async with self._lock:
            connection = self._connection
            if connection is None:
                connection = self._connection = self._make_connection()
            elif await _closed_or_dirty(connection):
                await connection.disconnect(nowait=True)
            try:
                if not connection.is_connected:
                    await connection.connect()  # type: ignore[no-untyped-call]
                await connection.send_packed_command(packed, check_health=False)
                first = await connection.read_response()
                rest: Any = None
                if drain:
                    try:
                        rest = await connection.read_response()
                    except redis_errors.ResponseError:
                        self._drain_unsupported = True
            except BaseException:
                # A reply left unread (a cancellation, a timeout) would answer the next pop: start afresh.
                await connection.disconnect(nowait=True)
                raise
        popped = [] if first is None else [cast(bytes, first[1])]
        if rest:
            popped.extend(cast("list[bytes]", rest))
        return popped

    def _blpop(self, key: str, block: float) -> bytes:
        head = self._blpop_heads.get(key)
        if head is None:
            if len(self._blpop_heads) > 64:
                self._blpop_heads.clear()
            head = self._blpop_heads[key] = b"*3\r\n" + _bulk(b"BLPOP") + _bulk(key.encode("utf-8"))
        return head + _bulk(b"%.3f" % max(block, 0.001))

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.disconnect()
