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

The calls a transport makes on every message (a push with the next pop behind it, reading that pop) have a direct
form, for a lane already connected (:meth:`Lane.ready`): the caller gives the time the operation may take, instead of
redis-py's per-command deadline bookkeeping; and with the hiredis parser, replies are read straight from its reader,
without redis-py's per-reply wrappers. Errors are the ones redis-py would raise, the connection closed as redis-py
closes it.

System calls cost more than the Python around them, so the direct form keeps its socket non-blocking (timeout 0, set
once per connection) and waits with a reused ``poll`` object bounded by the operation's deadline: a send is one
``send`` (a wait only when the send buffer is full), a read one ``poll`` and one ``recv``. A socket with a timeout
would ``poll`` before every send, and each new timeout would cost an ``ioctl``. The waits re-poll on an early
wake-up, so an operation ends neither before its deadline nor (beyond ``poll``'s millisecond) after it. Commands sent
through redis-py get the socket's timeout back first (:meth:`Lane._send`); without hiredis, redis-py reads the
replies, so the socket keeps a timeout.
"""

from __future__ import annotations

import os
import select
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Final, cast

import redis._parsers.hiredis as redis_hiredis
import redis.connection as redis_connection
import redis.exceptions as redis_errors

from soa_redis._deadline import SHORTEST_SOCKET_SECONDS, configured_socket_timeout, socket_seconds

__all__ = ["NOT_YET", "Lane", "LaneSet", "fork_generation"]

# Frames up to this size are joined with their command into one write (one syscall); larger ones are written
# separately so a big body is never copied.
_JOIN_LIMIT: Final = 64 * 1024
_CRLF: Final = b"\r\n"
_TIME: Final = b"*1\r\n$4\r\nTIME\r\n"
# What redis-py's hiredis reader returns while a reply is incomplete (older redis-py versions: False).
_NOT_ENOUGH_DATA: Final[Any] = getattr(redis_hiredis, "NOT_ENOUGH_DATA", False)
_READ_SIZE: Final = 64 * 1024
_CLOSED: Final = "Connection closed by server."
# Passed as a timeout: keep the socket's timeout (set by redis-py's deadline-bounded connection for each command).
_KEEP: Final[Any] = object()
# A RESP3 push message handed to redis-py's handler instead of being a reply.
_PUSHED: Final[Any] = object()
# What a wait for a reply returns when the reply did not start arriving in time.
NOT_YET: Final[Any] = object()

_monotonic: Final = time.monotonic
_POLLIN: Final = select.POLLIN
_POLLOUT: Final = select.POLLOUT
try:
    from ssl import SSLWantReadError, SSLWantWriteError
except ImportError:  # a Python without ssl has no TLS sockets: only BlockingIOError can come

    class SSLWantReadError(OSError):  # type: ignore[no-redef]
        pass

    class SSLWantWriteError(OSError):  # type: ignore[no-redef]
        pass


# What a non-blocking socket raises when it cannot go on yet (a TLS socket may need to read to write, or the reverse).
_BLOCKED: Final = (BlockingIOError, SSLWantReadError, SSLWantWriteError)


def _out_of_time() -> TimeoutError:
    # No errno: the same as a socket timeout, so _redis_error maps it to redis-py's TimeoutError.
    return TimeoutError("timed out")


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

    __slots__ = ("blpop_head", "expire_head", "last_blpop", "last_expire", "lpop", "lrem_head", "rpush_head")

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
        # (ttl, packed EXPIRE), kept for the same reason.
        self.last_expire: tuple[int, bytes] = (-1, b"")

    def expire_for(self, ttl_seconds: int) -> bytes:
        last_ttl, command = self.last_expire
        if ttl_seconds != last_ttl:
            command = self.expire_head + _bulk(b"%d" % ttl_seconds)
            self.last_expire = (ttl_seconds, command)
        return command


class Lane:
    """One connection and the commands the transport sends on it. Not thread-safe: one operation at a time."""

    __slots__ = (
        "__weakref__",
        "_buffer",
        "_direct",
        "_keys",
        "_poll",
        "_polled",
        "_tls",
        "_until",
        "connection",
        "timeout_limit",
    )

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._keys: dict[str, _KeyCommands] = {}
        # Replies are read from hiredis's reader directly (RESP3 push messages go to redis-py's handler).
        self._direct = isinstance(connection._parser, redis_hiredis._HiredisParser)
        self._buffer = bytearray(_READ_SIZE) if self._direct else bytearray()
        # The connection's own socket timeout: no operation's timeout is longer.
        self.timeout_limit: float | None = configured_socket_timeout(connection)
        # A poll object for the socket (re-made when the connection has a new one), registered for reading.
        self._poll = select.poll()
        self._polled = -1
        self._tls = isinstance(connection, redis_connection.SSLConnection)  # kept up to date by _poller
        # When the direct operation under way must end (monotonic; None: no bound).
        self._until: float | None = None

    # --- waiting on the non-blocking socket -------------------------------------------------------------

    def _poller(self, sock: Any) -> Any:
        fd = sock.fileno()
        if fd != self._polled:  # a new connection's socket (holding it here would keep a dropped one from closing)
            self._poll = select.poll()
            self._poll.register(fd, _POLLIN)
            self._polled = fd
            # Decrypted bytes a TLS socket holds are not seen by poll (see _receive_by).
            self._tls = hasattr(sock, "pending")
        return self._poll

    def _wait(self, sock: Any, until: float | None) -> bool:
        """Wait until ``sock`` can be read (or is closed), at most until ``until``: whether it can.

        Never gives up early: ``poll`` rounds its timeout up to the millisecond and retries an interrupted wait
        (PEP 475), and an early wake-up with nothing to read polls again for the time that is left.
        """
        poll = (self._poll if sock.fileno() == self._polled else self._poller(sock)).poll
        if until is None:
            return bool(poll())
        left = until - _monotonic()
        while True:
            if poll(left * 1000.0 if left > 0.0 else 0):
                return True
            if left <= 0.0:
                return False
            left = until - _monotonic()
            if left <= 0.0:
                return False

    def _wait_writable(self, sock: Any, until: float | None) -> bool:
        poll = self._poller(sock)
        poll.modify(self._polled, _POLLOUT)
        try:
            return self._wait(sock, until)
        finally:
            poll.modify(self._polled, _POLLIN)

    def _blocked(self, sock: Any, exc: BaseException, writing: bool, until: float | None) -> None:
        """Wait for what ``sock`` said it needs (``exc``: one of :data:`_BLOCKED`); out of time: TimeoutError."""
        if isinstance(exc, SSLWantWriteError) or (writing and not isinstance(exc, SSLWantReadError)):
            ready = self._wait_writable(sock, until)
        else:
            ready = self._wait(sock, until)
        if not ready:
            raise _out_of_time()

    def _send_all(self, sock: Any, data: Any, until: float | None) -> None:
        """Write ``data`` on the non-blocking ``sock``: one ``send`` unless the send buffer fills up."""
        view: Any = data
        while True:
            try:
                sent = sock.send(view)
            except _BLOCKED as exc:
                self._blocked(sock, exc, True, until)
                continue  # a TLS socket is given the same bytes again, as OpenSSL requires
            if sent >= len(view):
                return
            view = memoryview(view)[sent:]

    def _receive_by(self, sock: Any, reader: Any, until: float | None) -> None:
        """Feed ``reader`` what the non-blocking ``sock`` has once something came, waiting until ``until`` at most."""
        while True:
            if not (self._tls and sock.pending()) and not self._wait(sock, until):
                raise _out_of_time()
            try:
                count = sock.recv_into(self._buffer)
            except _BLOCKED as exc:  # woken with nothing (TLS: a partial record), or TLS needs to write
                if isinstance(exc, SSLWantWriteError):
                    self._blocked(sock, exc, True, until)
                continue
            if not count:
                raise redis_errors.ConnectionError(_CLOSED)
            reader.feed(self._buffer, 0, count)
            return

    # --- writing ----------------------------------------------------------------------------------------

    def ready(self) -> bool:
        """Whether the lane is connected and fit for a direct operation (no connect, so no Sentinel lookup, needed).

        An idle connection with something to read was closed by Redis (a restart, an idle timeout, a kill): it is
        closed here, nothing having been sent on it yet (redis-py's pools check the same), and the lane is not ready.
        """
        connection = self.connection
        sock = connection._sock
        if sock is None:
            return False
        # One poll(0) on the lane's reused poll object (cheaper than select.select's lists).
        if (self._poll if sock.fileno() == self._polled else self._poller(sock)).poll(0):
            connection.disconnect()
            return False
        return True

    def _send(self, packed: list[bytes], timeout: Any) -> None:
        if timeout is not _KEEP:
            self._write(packed, timeout)
            return
        connection = self.connection
        if not self.ready():
            # connect(), not the implicit connect of a send: Sentinel-managed connections look their master up there.
            connection.connect()
        elif connection._sock.gettimeout() == 0.0:
            # Left non-blocking by a direct operation: redis-py reads and writes with the connection's timeout.
            connection._sock.settimeout(connection.socket_timeout)
        connection.send_packed_command(packed, check_health=False)

    def _write(self, packed: list[bytes], timeout: float | None) -> None:
        """Write on the connected socket with ``timeout``; a failure closes the connection (as redis-py does)."""
        connection = self.connection
        sock = connection._sock
        try:
            if not self._direct:  # redis-py reads the replies, with the socket's timeout
                if sock.gettimeout() != timeout:
                    sock.settimeout(timeout)
                for part in packed:
                    sock.sendall(part)
                return
            # The replies are read by _receive, by the same deadline.
            until = self._until = None if timeout is None else _monotonic() + timeout
            if sock.gettimeout() != 0.0:
                sock.settimeout(0.0)
            for part in packed:
                try:
                    sent = sock.send(part)  # the usual case: all of it at once
                except _BLOCKED:
                    sent = 0
                if sent < len(part):
                    self._send_all(sock, memoryview(part)[sent:], until)
        except BaseException as exc:
            connection.disconnect()
            raise _redis_error(exc, "writing to") from exc

    # --- reading ----------------------------------------------------------------------------------------

    def _reply(self) -> Any:
        """The next reply; an error reply is returned (not raised), so that every reply of a write can be read."""
        connection = self.connection
        reader = getattr(connection._parser, "_reader", None) if self._direct else None
        if reader is None:
            try:
                return connection.read_response()
            except redis_errors.ResponseError as exc:
                return exc
        try:
            reply = self._gets(connection, reader)
        except BaseException as exc:
            connection.disconnect()
            raise _redis_error(exc, "reading from") from exc
        if type(reply) is list or reply is None:  # a BLPOP's answers (a RESP3 push message is a list subclass)
            return reply
        reply = self._final(reply)
        return self._reply() if reply is _PUSHED else reply

    def _final(self, reply: Any) -> Any:
        """``reply`` as redis-py would hand it over; :data:`_PUSHED` for a RESP3 push message (given to redis-py's
        handler: the reply it came before is still to be read). A connection error is raised."""
        parser = self.connection._parser
        push_type = getattr(parser, "_hiredis_PushNotificationType", None)
        if push_type is not None and isinstance(reply, push_type):
            parser.handle_push_response(reply)
            return _PUSHED
        if isinstance(reply, redis_errors.ConnectionError):
            raise reply
        return reply

    def _gets(self, connection: Any, reader: Any) -> Any:
        """hiredis's next reply, reading from the socket until it is whole (errors are the caller's to map)."""
        reply = reader.gets()
        while reply is _NOT_ENOUGH_DATA:
            self._receive(connection, reader)
            reply = reader.gets()
        return reply

    def _receive(self, connection: Any, reader: Any) -> None:
        sock = connection._sock
        buffer = self._buffer
        if sock.gettimeout() != 0.0:
            count = sock.recv_into(buffer)  # a command redis-py sent: the socket's timeout applies
        else:
            # A direct operation's, by its deadline. The usual case inline (every reply is read here): one poll, one
            # recv; _receive_by takes everything else (TLS, no deadline, a new socket, nothing in time, woken early).
            until = self._until
            if self._tls or until is None or sock.fileno() != self._polled:
                self._receive_by(sock, reader, until)
                return
            left = until - _monotonic()
            if not (left > 0.0 and self._poll.poll(left * 1000.0)):
                self._receive_by(sock, reader, until)
                return
            try:
                count = sock.recv_into(buffer)
            except BlockingIOError:
                self._receive_by(sock, reader, until)
                return
        if not count:
            raise redis_errors.ConnectionError(_CLOSED)
        reader.feed(buffer, 0, count)

    def _replies(self, count: int) -> list[Any]:
        """Read ``count`` replies; an error reply is raised after all of them are read (the connection stays usable)."""
        replies = [self._reply() for _ in range(count)]
        for reply in replies:
            if isinstance(reply, redis_errors.ResponseError):
                raise reply
        return replies

    def _for(self, key: str) -> _KeyCommands:
        commands = self._keys.get(key)
        if commands is None:
            if len(self._keys) > 1024:  # reply queues of many threads: do not grow without bound
                self._keys.clear()
            commands = self._keys[key] = _KeyCommands(key)
        return commands

    def _packed_push(self, key: str, frame: bytes, ttl_seconds: int, with_time: bool, tail: bytes) -> list[bytes]:
        commands = self._for(key)
        expire = commands.expire_for(ttl_seconds)
        if with_time:
            expire += _TIME
        if len(frame) <= _JOIN_LIMIT:
            return [b"".join((commands.rpush_head, b"$%d\r\n" % len(frame), frame, _CRLF, expire, tail))]
        return [commands.rpush_head + b"$%d\r\n" % len(frame), frame, _CRLF + expire + tail]

    def _read_push(self, with_time: bool) -> tuple[int, Any]:
        if with_time:
            replies = self._replies(3)
            return int(replies[0]), replies[2]
        length = self._reply()
        expired = self._reply()
        if isinstance(length, redis_errors.ResponseError):
            raise length  # the first error is the one reported
        if isinstance(expired, redis_errors.ResponseError):
            raise expired
        return int(length), None

    def push(self, key: str, frame: bytes, ttl_seconds: int, with_time: bool, timeout: Any = _KEEP) -> tuple[int, Any]:
        """``RPUSH key frame`` + ``EXPIRE key ttl`` (+ ``TIME``) in one write; the list's new length and the time.

        With ``timeout`` (seconds or ``None``), the lane must be :meth:`ready` and the socket gets that timeout.
        """
        self._send(self._packed_push(key, frame, ttl_seconds, with_time, b""), timeout)
        return self._read_push(with_time)

    def push_then_blpop(
        self,
        key: str,
        frame: bytes,
        ttl_seconds: int,
        with_time: bool,
        pop_key: str,
        block: float,
        written: Any,
        timeout: Any = _KEEP,
    ) -> tuple[int, Any]:
        """:meth:`push`, with ``BLPOP pop_key block`` written in the same write (one round trip for both).

        ``written()`` is called once everything is written: from then on the pop is pending on this connection
        (Redis runs it whatever the push's replies say), and :meth:`read_blpop` must read its reply. The push's
        replies are read here; an error reply among them is raised, with the pop still pending.
        """
        if timeout is not _KEEP and self._direct and not with_time and len(frame) <= _JOIN_LIMIT:
            return self.push_then_blpop_ready(key, frame, ttl_seconds, pop_key, block, written, timeout), None
        self._send(self._packed_push(key, frame, ttl_seconds, with_time, self._blpop_command(pop_key, block)), timeout)
        written()
        return self._read_push(with_time)

    def push_then_blpop_ready(
        self, key: str, frame: bytes, ttl_seconds: int, pop_key: str, block: float, written: Any, timeout: float | None
    ) -> int:
        """:meth:`push_then_blpop` without ``TIME``, on a :meth:`ready` lane whose socket gets ``timeout``: the list's
        new length."""
        if not self._direct or len(frame) > _JOIN_LIMIT:
            return int(self.push_then_blpop(key, frame, ttl_seconds, False, pop_key, block, written, timeout)[0])
        # What a transport does for every message it sends, in one piece: the general steps' calls cost more
        # than this whole write and read.
        commands = self._keys.get(key) or self._for(key)
        last_ttl, expire = commands.last_expire
        if ttl_seconds != last_ttl:
            expire = commands.expire_for(ttl_seconds)
        last_block, blpop = (self._keys.get(pop_key) or self._for(pop_key)).last_blpop
        if block != last_block:
            blpop = self._blpop_command(pop_key, block)
        self._write([b"".join((commands.rpush_head, b"$%d\r\n" % len(frame), frame, _CRLF, expire, blpop))], timeout)
        written()
        connection = self.connection
        reader = getattr(connection._parser, "_reader", None)
        if reader is None:
            return self._read_push(False)[0]
        try:
            length = self._gets(connection, reader)
            expired = self._gets(connection, reader)
        except BaseException as exc:
            connection.disconnect()
            raise _redis_error(exc, "reading from") from exc
        if type(length) is int and type(expired) is int:
            return length
        # An error reply, or a RESP3 push message among the replies (the first error is the one reported).
        replies = self._settle([length, expired])
        for reply in replies:
            if isinstance(reply, redis_errors.ResponseError):
                raise reply
        return int(replies[0])

    def _settle(self, read: list[Any]) -> list[Any]:
        """The replies to the commands whose ``len(read)`` replies were read: push messages handled, and as many
        replies read in their place."""
        replies = []
        for reply in read:
            reply = self._final(reply)
            if reply is not _PUSHED:
                replies.append(reply)
        while len(replies) < len(read):
            replies.append(self._reply())
        return replies

    def _blpop_command(self, key: str, block: float) -> bytes:
        commands = self._for(key)
        last_block, command = commands.last_blpop
        if block != last_block:
            command = commands.blpop_head + _bulk(b"%.3f" % block)
            commands.last_blpop = (block, command)
        return command

    def read_blpop(self, timeout: Any = _KEEP) -> bytes | None:
        """Read the reply of a pending ``BLPOP``, bounded by ``timeout`` (default: the socket's current timeout)."""
        if timeout is not _KEEP:
            sock = self.connection._sock
            if self._direct and sock is not None:
                self._until = None if timeout is None else _monotonic() + timeout
                if sock.gettimeout() != 0.0:
                    self._set_timeout(0.0)
            elif sock is None or sock.gettimeout() != timeout:
                self._set_timeout(timeout)
        return _blpop_element(self._reply())

    def read_blpop_by(self, until: float) -> bytes | None:
        """``read_blpop(socket_seconds(until, timeout_limit))``: the reply of a pending ``BLPOP``, read by ``until``
        (monotonic; at least :data:`SHORTEST_SOCKET_SECONDS` from now) and within the lane's timeout limit.

        A server reads every request this way: the usual case (a connected hiredis lane) is read here without the calls
        of read_blpop's and _reply's steps.
        """
        connection = self.connection
        sock = connection._sock
        reader = getattr(connection._parser, "_reader", None) if self._direct else None
        if reader is None or sock is None:
            return self.read_blpop(socket_seconds(until, self.timeout_limit))
        # socket_seconds' bounds, as a deadline.
        now = _monotonic()
        left = until - now
        if left < SHORTEST_SOCKET_SECONDS:
            left = SHORTEST_SOCKET_SECONDS
        limit = self.timeout_limit
        if limit is not None and limit < left:
            left = limit
        self._until = now + left
        try:
            if sock.gettimeout() != 0.0:
                sock.settimeout(0.0)
            reply = self._gets(connection, reader)
        except BaseException as exc:
            connection.disconnect()
            raise _redis_error(exc, "reading from") from exc
        if type(reply) is list:
            element: bytes = reply[1]  # typed by annotation: typing.cast would be a call on every message
            return element
        if reply is not None:  # anything else _reply hands over as it does (push messages, errors)
            reply = self._final(reply)
            if reply is _PUSHED:
                reply = self._reply()
        return _blpop_element(reply)

    def wait_blpop(self, wait: float, until: float) -> Any:
        """Read the reply of a pending ``BLPOP`` if it starts arriving within ``wait`` seconds, else :data:`NOT_YET`.

        Once it started, the rest must arrive by ``until`` (monotonic). Needs a connected lane.
        """
        connection = self.connection
        reader = getattr(connection._parser, "_reader", None) if self._direct else None
        if reader is None:
            if not connection.can_read(wait):
                return NOT_YET
            return self.read_blpop_by(until)
        if not reader.has_data():
            sock = connection._sock
            try:
                if sock.gettimeout() != 0.0:
                    sock.settimeout(0.0)
                self._until = _monotonic() + wait  # no time left: only what is there
                self._receive(connection, reader)
            except TimeoutError as exc:
                if exc.errno is None:
                    return NOT_YET  # nothing was read: the pop stays pending
                connection.disconnect()
                raise _redis_error(exc, "reading from") from exc
            except BaseException as exc:
                connection.disconnect()
                raise _redis_error(exc, "reading from") from exc
            # Usually the whole reply came in that one read: no timeout to set for the rest.
            try:
                reply = reader.gets()
            except BaseException as exc:
                connection.disconnect()
                raise _redis_error(exc, "reading from") from exc
            if type(reply) is list:
                return reply[1]  # the element (this method returns Any: no cast, a call on every message)
            if reply is None:
                return None
            if reply is not _NOT_ENOUGH_DATA:
                reply = self._final(reply)
                if reply is not _PUSHED:
                    if isinstance(reply, redis_errors.ResponseError):
                        raise reply
                    return reply[1]
        return self.read_blpop_by(until)

    def _set_timeout(self, timeout: float | None) -> None:
        connection = self.connection
        sock = connection._sock
        if sock is None:
            raise redis_errors.ConnectionError(_CLOSED)
        try:
            if sock.gettimeout() != timeout:
                sock.settimeout(timeout)
        except OSError as exc:
            connection.disconnect()
            raise _redis_error(exc, "reading from") from exc

    def remove_last(self, key: str, frame: bytes) -> int:
        """``LREM key -1 frame``: how many were removed."""
        self._send([self._for(key).lrem_head + _bulk(frame)], _KEEP)
        return int(self._replies(1)[0])

    def blpop(self, key: str, block: float) -> bytes | None:
        """``BLPOP key block``: the element, or ``None`` when nothing came in ``block`` seconds."""
        self._send([self._blpop_command(key, block)], _KEEP)
        return self.read_blpop()

    def lpop(self, key: str) -> bytes | None:
        """``LPOP key``: the element, or ``None`` if the list is empty."""
        self._send([self._for(key).lpop], _KEEP)
        return cast("bytes | None", self._replies(1)[0])

    def close(self) -> None:
        self.connection.disconnect()


def _blpop_element(reply: Any) -> bytes | None:
    """The element of a ``BLPOP`` reply (``[key, element]``), ``None`` when it timed out; an error reply is raised."""
    # The element typed by a local's annotation: typing.cast is a function call, made on every message.
    element: bytes
    if type(reply) is list:
        element = reply[1]
        return element
    if reply is None:
        return None
    if isinstance(reply, redis_errors.ResponseError):
        raise reply
    element = reply[1]
    return element


def _redis_error(exc: BaseException, doing: str) -> BaseException:
    """What redis-py raises for ``exc`` met while ``doing`` the socket (its connection already closed)."""
    if isinstance(exc, redis_errors.RedisError):
        return exc
    if isinstance(exc, TimeoutError) and getattr(exc, "errno", None) is None:
        return redis_errors.TimeoutError(f"Timeout {doing} socket")
    if isinstance(exc, OSError):
        return redis_errors.ConnectionError(f"Error {doing} socket: {exc.args}")
    return exc


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
