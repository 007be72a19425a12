"""Cancellations that redis.asyncio drops on Python 3.11, raised again.

redis-py runs a connection's I/O through ``asyncio.wait_for``: every write (bounded by ``socket_timeout``) and,
when the pool hands out a connection with input pending, the read of that input. On Python 3.11 ``wait_for``
returns the inner result (or raises its error) when the I/O finishes just as the task is cancelled, dropping the
cancellation (CPython gh-86296, fixed in 3.12): a cancelled worker kept running, and an expired
``asyncio.timeout`` let the read that follows outlive the call's deadline. Every connection of the async
transport (standalone, Sentinel and its Sentinels, Redis Cluster) runs that I/O through
:class:`CancellationsKept`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator
from typing import cast

from redis.asyncio.connection import AbstractConnection, ConnectionPool

__all__ = ["CancellationsKept", "keep_cancellations"]


class CancellationsKept(AbstractConnection):
    """A connection mixin: a cancellation requested during redis-py's ``wait_for`` I/O ends that I/O cancelled."""

    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        with _cancellation_kept():
            await super().send_packed_command(command, check_health)

    async def handle_pending_push_notifications(self) -> None:
        with _cancellation_kept():
            await super().handle_pending_push_notifications()


@contextlib.contextmanager
def _cancellation_kept() -> Iterator[None]:
    """Raise :class:`asyncio.CancelledError` if the task was cancelled inside and no cancellation came out.

    A cancellation that was delivered raised out of the block; one still counted by the task (an
    ``asyncio.timeout`` inside takes back its own) with a result or another error instead was dropped.
    """
    task = asyncio.current_task()
    cancels_before = task.cancelling() if task is not None else 0
    try:
        yield
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        if task is not None and task.cancelling() > cancels_before:
            raise asyncio.CancelledError from exc
        raise
    if task is not None and task.cancelling() > cancels_before:
        raise asyncio.CancelledError


def keep_cancellations(pool: ConnectionPool) -> None:
    """Make the connections ``pool`` builds from now on run their I/O through :class:`CancellationsKept`."""
    pool.connection_class = _keeping(pool.connection_class)


def _keeping(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """``connection_class`` (plain, TLS, Unix socket, Sentinel-managed) with the mixin ahead of it."""
    if issubclass(connection_class, CancellationsKept):
        return connection_class
    name = f"{connection_class.__name__}KeepingCancellations"
    return cast("type[AbstractConnection]", type(name, (CancellationsKept, connection_class), {}))
