"""Coroutine middleware for ``request.run_coroutine(coro)`` (PySOA's async support).

``request.run_coroutine(coro)`` schedules ``coro`` on the server's private event loop thread and
returns a :class:`concurrent.futures.Future`. Before that, each configured coroutine middleware's
``before_run_coroutine()`` runs (in configuration order, in the calling thread), and
``coroutine(coro)`` wraps the coroutine (the first configured is the outermost wrapper).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any, ClassVar, TypeVar

from conformity import fields

__all__ = ["CoroutineMiddleware", "DefaultCoroutineMiddleware", "MiddlewareCoroutine"]

_T = TypeVar("_T")

MiddlewareCoroutine = TypeVar("MiddlewareCoroutine", bound=Coroutine[Any, Any, Any])
"""PySOA's type variable for hints on ``coroutine()``: the wrapper returns what the wrapped coroutine returns."""


class CoroutineMiddleware:
    settings_schema: ClassVar[fields.Base] = fields.Dictionary({})

    def __init__(self, **kwargs: Any) -> None:
        pass

    def before_run_coroutine(self) -> None:
        """Runs in the action's thread just before the coroutine is scheduled."""

    def coroutine(self, coroutine: Coroutine[Any, Any, _T]) -> Coroutine[Any, Any, _T]:
        """Return a coroutine that wraps ``coroutine`` (the default returns it unchanged)."""
        return coroutine


class DefaultCoroutineMiddleware(CoroutineMiddleware):
    """Logs exceptions that escape a coroutine, then re-raises them."""

    logger = logging.getLogger("pysoa.async")

    def coroutine(self, coroutine: Coroutine[Any, Any, _T]) -> Coroutine[Any, Any, _T]:
        async def wrapper() -> _T:
            try:
                return await coroutine
            except Exception:
                self.logger.exception("Error occurred while awaiting coroutine in request.run_coroutine")
                raise

        return wrapper()
