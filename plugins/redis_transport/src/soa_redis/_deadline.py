"""Bounding every Redis socket operation by the time its caller has left.

redis-py applies one fixed ``socket_timeout`` (and ``socket_connect_timeout``) to every command. A
call with one second left must not wait five for a silent or stalled Redis, so the backend runs each
operation inside :func:`io_deadline`, and the connections it uses (:func:`deadline_bounded`
classes) shorten their socket timeouts to the time left before the current thread's deadline. This
covers the TCP connect, the connection handshake (``HELLO``/``AUTH``), the command itself and any
Sentinel lookup a connect makes. Outside an :func:`io_deadline` block the configured timeouts apply.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Final

__all__ = ["SHORTEST_SOCKET_SECONDS", "configured_socket_timeout", "deadline_bounded", "io_deadline", "socket_seconds"]

# A socket timeout of 0 would make the socket non-blocking; a deadline already passed gets this.
SHORTEST_SOCKET_SECONDS: Final = 0.001

_current = threading.local()


class _IODeadline:
    """The context manager :func:`io_deadline` returns (a class: it runs on every Redis command, and is cheaper
    than a generator-based one)."""

    __slots__ = ("_deadline", "_previous")

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self._previous: float | None = None

    def __enter__(self) -> None:
        previous: float | None = getattr(_current, "deadline", None)
        self._previous = previous
        deadline = self._deadline
        _current.deadline = deadline if previous is None or deadline < previous else previous

    def __exit__(self, *_exc_info: object) -> None:
        _current.deadline = self._previous


def io_deadline(deadline: float) -> _IODeadline:
    """Bound the Redis I/O of this thread inside the ``with`` block by ``deadline`` (a ``time.monotonic()`` value)."""
    return _IODeadline(deadline)


def _bounded(configured: float | None) -> float | None:
    deadline: float | None = getattr(_current, "deadline", None)
    if deadline is None:
        return configured
    # Conditional expressions rather than max()/min(): these run on every Redis command, and the builtins' argument
    # handling costs several times the comparison.
    left = deadline - time.monotonic()
    if left < SHORTEST_SOCKET_SECONDS:
        left = SHORTEST_SOCKET_SECONDS
    return left if configured is None or configured >= left else float(configured)


def socket_seconds(until: float, limit: float | None) -> float | None:
    """The socket timeout for an operation that must end by ``until`` (monotonic) and may take at most ``limit``.

    For callers that set a socket's timeout themselves instead of running inside :func:`io_deadline`.
    """
    left = until - time.monotonic()
    if left < SHORTEST_SOCKET_SECONDS:
        left = SHORTEST_SOCKET_SECONDS
    return left if limit is None or limit >= left else float(limit)


def configured_socket_timeout(connection: Any) -> float | None:
    """``connection``'s own ``socket_timeout`` setting, whatever :func:`io_deadline` is in force."""
    fget = getattr(type(connection), "configured_timeout_getter", None)
    return fget(connection) if fget is not None else connection.socket_timeout  # type: ignore[no-any-return]


_bounded_classes: dict[type[Any], type[Any]] = {}
_classes_lock = threading.Lock()


def deadline_bounded(connection_class: type[Any]) -> type[Any]:
    """A subclass of a redis-py connection class whose socket timeouts respect :func:`io_deadline`."""
    with _classes_lock:
        bounded = _bounded_classes.get(connection_class)
        if bounded is None:
            bounded = _bounded_classes[connection_class] = _make_bounded(connection_class)
        return bounded


def _make_bounded(base: Any) -> type[Any]:
    timeout_property = base.socket_timeout
    connect_timeout_property = base.socket_connect_timeout

    class DeadlineBoundedConnection(base):  # type: ignore[misc]
        # The setting itself (see configured_socket_timeout).
        configured_timeout_getter = timeout_property.fget

        @property
        def socket_timeout(self) -> float | None:
            return _bounded(timeout_property.fget(self))

        @socket_timeout.setter
        def socket_timeout(self, value: float | None) -> None:
            timeout_property.fset(self, value)

        @property
        def socket_connect_timeout(self) -> float | None:
            return _bounded(connect_timeout_property.fget(self))

        @socket_connect_timeout.setter
        def socket_connect_timeout(self, value: float | None) -> None:
            connect_timeout_property.fset(self, value)

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            # An open socket keeps the timeout it was given at connect time (or by the last
            # operation); every command resets it to what this operation may spend.
            sock = self._sock
            if sock is not None:
                sock.settimeout(self.socket_timeout)
            super().send_packed_command(command, check_health)

    DeadlineBoundedConnection.__name__ = DeadlineBoundedConnection.__qualname__ = f"DeadlineBounded{base.__name__}"
    return DeadlineBoundedConnection
