"""The context of the request being handled, which every client call made while handling it carries along.

A server sets it (:func:`chained_context`) around each job it runs, in the thread or asyncio task
that runs the job; tasks started from there inherit it, and concurrent jobs never see each other's.
Any :class:`~pysoa.client.Client` or :class:`~pysoa.client.AsyncClient` call made meanwhile merges
it into its request context, so the correlation id, the switches and the other context keys follow
a chain of calls across services whether the action uses ``request.client`` or a client of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["chained_context", "current_chained_context"]

_CHAINED: ContextVar[Mapping[str, Any] | None] = ContextVar("pysoa_chained_context", default=None)

current_chained_context = _CHAINED.get


@contextmanager
def chained_context(context: Mapping[str, Any]) -> Iterator[None]:
    """While inside, client calls from this thread or task (and tasks it starts) carry ``context`` along."""
    token = _CHAINED.set(context)
    try:
        yield
    finally:
        _CHAINED.reset(token)
