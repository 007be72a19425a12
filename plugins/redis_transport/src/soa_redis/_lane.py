"""The per-call Redis commands, prepacked and written on one connection the transport owns (per thread, per host).

redis-py's ``redis.Redis`` methods and pipelines cost more per command than the Redis round trip itself: pool
checkout and release, argument encoding, response callbacks, observability hooks. The transport's per-call commands
are few and fixed (``RPUSH`` + ``EXPIRE``, ``BLPOP``, ``LPOP``, ``LREM``), so a :class:`Lane` packs them by hand (the
parts naming a key once per key) and uses only what redis-py is needed for: its connection (connect, TLS, ACL login,
Sentinel master lookup, the deadline-bounded socket timeouts of :mod:`soa_redis._deadline`) and its parser
(hiredis when installed). Errors are redis-py's own, so :func:`soa_redis._errors.translate_redis_error` applies
unchanged; a connection or timeout error leaves the connection closed, and the next command reconnects.

A lane serves one operation at a time (:class:`LaneSet` hands lanes out and takes them back): a blocking pop holds
its connection, and commands written in one go (a push with its ``EXPIRE``) are read back in order before the lane
is given back.
"""

from __future__ import annotations

import os
import select
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Final, cast

import redis.exceptions as redis_errors

__all__ = ["Lane", "LaneSet", "fork_generation"]

# Frames up to this size are joined with their command into one write (one syscall); larger ones are written
# separately so a big body is never copied.
_JOIN_LIMIT: Final = 64 * 1024
_CRLF: Final = b"\r\n"
_TIME: Final = b"*1\r\n$4\r\nTIME\r\n"

# Bumped in a forked child, so lanes made before the fork are not used there (cheaper than os.getpid() per call).
_fork_generation = 0


def _after_fork() -> None:
    global _fork_generation
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork)


def fork_generation() -> int:
    """How many forks this process is from the one that imported this module (compare to spot an inherited lane)."""
    return _fork_generation


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _command(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)


class _KeyCommands:
    """The prepacked pieces of every command on one key."""

    __slots__ = ("blpop_head", "expire_head", "last_blpop", "lpop", "lrem_head", "rpush_head")

    def __init__(self, key: str) -> None:
        encoded = key.encode("utf-8")
        self.rpush_head = b"*3\r\n" + _bulk(b"RPUSH") + _bulk(encoded)
        self.expire_head = b"*3\r\n" + _bulk(b"EXPIRE") + _bulk(encoded)
        self.blpop_head = b"*3\r\n" + _bulk(b"BLPOP") + _bulk(encoded)
        self.lpop = _command(b"LPOP", encoded)
        self.lrem_head = b"*4\r\n" + _bulk(b"LREM") + _bulk(encoded) + _bulk(b"-1")
        # (block, packed BLPOP): a key is mostly popped with the same block (a server's receive timeout, a
        # client's usual expiry), so the last one is kept rather than formatted again.
        self.last_blpop: tuple[float, bytes] = (-1.0, b"")


class Lane:
    """One connection and the commands the transport sends on it. Not thread-safe: one operation at a time."""

    __slots__ = ("__weakref__", "_keys", "connection")

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._keys: dict[str, _KeyCommands] = {}

    def _send(self, packed: list[bytes]) -> None:
        connection = self.connection
        sock = connection._sock
        if sock is not None and select.select((sock,), (), (), 0)[0]:
            # An idle connection with something to read was closed by Redis (a restart, an idle timeout, a kill):
            # nothing was sent on it yet, so a fresh connection is safe (redis-py's pools check the same).
            connection.disconnect()
            sock = None
        if sock is None:
            # connect(), not the implicit connect of a send: Sentinel-managed connections look their master up there.
            connection.connect()
        connection.send_packed_command(packed, check_health=False)

    def _for(self, key: str) -> _KeyCommands:
        commands = self._keys.get(key)
        if commands is None:
            if len(self._keys) > 1024:  # reply queues of many threads: do not grow without bound
                self._keys.clear()
            commands = self._keys[key] = _KeyCommands(key)
        return commands

    def _read_all(self, count: int) -> list[Any]:
        """Read ``count`` replies; an error reply is raised after all of them are read (the connection stays usable)."""
        read = self.connection.read_response
        replies: list[Any] = []
        error: redis_errors.ResponseError | None = None
        for _ in range(count):
            try:
                replies.append(read())
            except redis_errors.ResponseError as exc:
                error = error or exc
                replies.append(None)
        if error is not None:
            raise error
        return replies

    def _packed_push(self, key: str, frame: bytes, ttl_seconds: int, with_time: bool, tail: bytes) -> list[bytes]:
        commands = self._for(key)
        expire = commands.expire_head + _bulk(b"%d" % ttl_seconds)
        if with_time:
            expire += _TIME
        if len(frame) <= _JOIN_LIMIT:
            return [b"".join((commands.rpush_head, b"$%d\r\n" % len(frame), frame, _CRLF, expire, tail))]
        return [commands.rpush_head + b"$%d\r\n" % len(frame), frame, _CRLF + expire + tail]

    def _read_push(self, with_time: bool) -> tuple[int, Any]:
        if with_time:
            replies = self._read_all(3)
            return int(replies[0]), replies[2]
        # The usual case, unrolled: the RPUSH and EXPIRE replies (an error reply is raised once both are read).
        read = self.connection.read_response
        try:
            length = read()
        except redis_errors.ResponseError as exc:
            try:
                read()
            except redis_errors.ResponseError:
                pass  # the first error is the one reported, as by _read_all
            raise exc
        read()
        return int(length), None

    def push(self, key: str, frame: bytes, ttl_seconds: int, with_time: bool) -> tuple[int, Any]:
        """``RPUSH key frame`` + ``EXPIRE key ttl`` (+ ``TIME``) in one write; the list's new length and the time."""
        self._send(self._packed_push(key, frame, ttl_seconds, with_time, b""))
        return self._read_push(with_time)

    def push_then_blpop(
        self, key: str, frame: bytes, ttl_seconds: int, with_time: bool, pop_key: str, block: float, written: Any
    ) -> tuple[int, Any]:
        """:meth:`push`, with ``BLPOP pop_key block`` written in the same write (one round trip for both).

        ``written()`` is called once everything is written: from then on the pop is pending on this connection
        (Redis runs it whatever the push's replies say), and :meth:`read_blpop` must read its reply. The push's
        replies are read here; an error reply among them is raised, with the pop still pending.
        """
        self._send(self._packed_push(key, frame, ttl_seconds, with_time, self._blpop_command(pop_key, block)))
        written()
        return self._read_push(with_time)

    def _blpop_command(self, key: str, block: float) -> bytes:
        commands = self._for(key)
        last_block, command = commands.last_blpop
        if block != last_block:
            command = commands.blpop_head + _bulk(b"%.3f" % block)
            commands.last_blpop = (block, command)
        return command

    def read_blpop(self) -> bytes | None:
        """Read the reply of a pending ``BLPOP`` (bounded by the socket's timeout, as set by the caller)."""
        reply = self.connection.read_response()
        return None if reply is None else cast(bytes, reply[1])

    def remove_last(self, key: str, frame: bytes) -> int:
        """``LREM key -1 frame``: how many were removed."""
        self._send([self._for(key).lrem_head + _bulk(frame)])
        return int(self.connection.read_response())

    def blpop(self, key: str, block: float) -> bytes | None:
        """``BLPOP key block``: the element, or ``None`` when nothing came in ``block`` seconds."""
        self._send([self._blpop_command(key, block)])
        return self.read_blpop()

    def lpop(self, key: str) -> bytes | None:
        """``LPOP key``: the element, or ``None`` if the list is empty."""
        self._send([self._for(key).lpop])
        reply = self.connection.read_response()
        return cast("bytes | None", reply)

    def close(self) -> None:
        self.connection.disconnect()


class LaneSet:
    """The lanes of one host: a free list, so a lane serves one operation at a time and any thread may take it.

    :meth:`take` hands out an idle lane (or makes one, without I/O); :meth:`give_back` returns it. A lane whose
    command failed half-way has been disconnected by redis-py (it reconnects on its next command), so every lane
    given back is fit for use. A forked child never uses lanes (sockets) of its parent.
    """

    __slots__ = ("_all", "_generation", "_idle", "_lock", "_make_connection")

    def __init__(self, make_connection: Callable[[], Any]) -> None:
        self._make_connection = make_connection
        self._idle: deque[Lane] = deque()
        self._generation = _fork_generation
        self._lock = threading.Lock()
        # Every lane made in this process (weak: a lane dropped with its thread's failure goes with its socket).
        self._all: weakref.WeakSet[Lane] = weakref.WeakSet()

    def take(self) -> Lane:
        if self._generation != _fork_generation:
            with self._lock:
                if self._generation != _fork_generation:
                    self._idle = deque()
                    self._all = weakref.WeakSet()
                    self._generation = _fork_generation
        try:
            return self._idle.pop()  # the most recently used: its connection is the likeliest to be warm
        except IndexError:
            lane = Lane(self._make_connection())
            with self._lock:
                self._all.add(lane)
            return lane

    def give_back(self, lane: Lane) -> None:
        self._idle.append(lane)

    def close(self) -> None:
        """Close every lane's connection (each reconnects when it is used again)."""
        with self._lock:
            lanes = list(self._all)
        for lane in lanes:
            lane.close()
