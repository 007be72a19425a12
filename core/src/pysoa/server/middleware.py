"""Server middleware (PySOA's path): the base class lives with the other contracts in :mod:`pysoa.common.middleware`."""

from __future__ import annotations

from pysoa.common.middleware.server import (
    ActionMiddlewareTask,
    AsyncActionMiddlewareTask,
    AsyncJobMiddlewareTask,
    JobMiddlewareTask,
    ServerMiddleware,
)

__all__ = [
    "ActionMiddlewareTask",
    "AsyncActionMiddlewareTask",
    "AsyncJobMiddlewareTask",
    "JobMiddlewareTask",
    "ServerMiddleware",
]
