"""Async client middleware (the client's path): the base class lives with the other contracts in
:mod:`pysoa.common.middleware.async_client`."""

from __future__ import annotations

from pysoa.common.middleware.async_client import (
    AsyncClientMiddleware,
    AsyncRequestMiddlewareTask,
    AsyncResponseMiddlewareTask,
)

__all__ = ["AsyncClientMiddleware", "AsyncRequestMiddlewareTask", "AsyncResponseMiddlewareTask"]
