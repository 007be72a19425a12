"""The one place where redis-py exceptions become soa-core transport errors."""

from __future__ import annotations

from typing import Literal

import redis.exceptions as redis_errors

from pysoa.errors import (
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
    TransportConnectionError,
    TransportError,
)

__all__ = ["RedisReceiveConnectionError", "RedisSendConnectionError", "translate_redis_error"]


class RedisSendConnectionError(MessageSendError, TransportConnectionError):
    """Redis could not be reached (or refused the login) while sending; nothing was sent.

    Both a :class:`~pysoa.errors.MessageSendError` (what PySOA raised) and a
    :class:`~pysoa.errors.TransportConnectionError`.
    """


class RedisReceiveConnectionError(MessageReceiveError, TransportConnectionError):
    """Redis could not be reached (or refused the login) while receiving."""


Direction = Literal["send", "receive"]


def translate_redis_error(
    exc: Exception, direction: Direction, key: str, where: str, out_of_time: bool = False, waited: float | None = None
) -> TransportError:
    """The soa-core error for a redis-py error raised while sending to or receiving from ``key``.

    Callers ``raise translate_redis_error(...) from exc``. A socket timeout while sending becomes
    :class:`MessageSendTimeout` (the push may or may not have happened); connection failures,
    including Sentinel's "no master" and failed logins, become the ``*ConnectionError`` classes;
    anything else Redis answered (an ACL refusal, a read-only replica, out of memory, ...) becomes
    :class:`MessageSendError` / :class:`MessageReceiveError` with Redis's message. A socket timeout
    while receiving that ended because the caller's time ran out (``out_of_time``) becomes
    :class:`MessageReceiveTimeout`: Redis stalled, and the caller's deadline came first.
    """
    detail = f"{type(exc).__name__}: {exc}"
    after = "" if waited is None else f" after {waited:.3f} s"
    if direction == "send":
        if isinstance(exc, redis_errors.TimeoutError):
            return MessageSendTimeout(f"Timed out sending to Redis queue {key!r} on {where}{after}: {detail}")
        if isinstance(exc, redis_errors.ConnectionError):
            return RedisSendConnectionError(f"Cannot reach Redis at {where} to send to {key!r}: {detail}")
        return MessageSendError(f"Redis at {where} refused the send to {key!r}: {detail}")
    if out_of_time and isinstance(exc, redis_errors.TimeoutError):
        return MessageReceiveTimeout(
            f"Redis at {where} did not answer before the deadline (receiving from {key!r}){after}"
        )
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        # A socket timeout on a blocking read means Redis stalled: the socket timeout always exceeds
        # the blocking timeout, so it is a connection failure, not "no message".
        return RedisReceiveConnectionError(f"Cannot reach Redis at {where} to receive from {key!r}: {detail}")
    return MessageReceiveError(f"Redis at {where} refused the receive from {key!r}: {detail}")
