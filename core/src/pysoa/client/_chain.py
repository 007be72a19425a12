"""The context of the request being handled, which every client call made while handling it carries along.

A server sets it (:func:`chained_context`) around each job it runs, in the thread or asyncio task
that runs the job; tasks started from there inherit it, and concurrent jobs never see each other's.
Any :class:`~pysoa.client.Client` or :class:`~pysoa.client.AsyncClient` call made meanwhile merges
it into its request context, so the correlation id, the switches and the other context keys follow
a chain of calls across services whether the action uses ``request.client`` or a client of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any

__all__ = ["chained_context", "current_chained_context", "reset_chained_context", "set_chained_context"]

_CHAINED: ContextVar[Mapping[str, Any] | None] = ContextVar("pysoa_chained_context", default=None)

current_chained_context = _CHAINED.get
# chained_context's two halves, for a caller that runs once per job and can pair them in a try/finally itself
# (no object to build, no __enter__ and __exit__ calls): set returns the token reset takes.
set_chained_context = _CHAINED.set
reset_chained_context = _CHAINED.reset


class chained_context:
    """While inside, client calls from this thread or task (and tasks it starts) carry ``context`` along.

    A class rather than a ``@contextmanager`` generator: it is entered for every job a server runs.
    """

    __slots__ = ("_context", "_token")

    _token: Token[Mapping[str, Any] | None]

    def __init__(self, context: Mapping[str, Any]) -> None:
        self._context = context

    def __enter__(self) -> None:
        self._token = _CHAINED.set(self._context)

    def __exit__(self, *exc_info: object) -> None:
        _CHAINED.reset(self._token)
