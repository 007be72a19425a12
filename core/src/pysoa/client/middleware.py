"""Client middleware (PySOA's path): the base class lives with the other contracts in :mod:`pysoa.common.middleware`."""

from __future__ import annotations

from pysoa.common.middleware.client import ClientMiddleware, ClientRequestMiddlewareTask, ClientResponseMiddlewareTask

__all__ = ["ClientMiddleware", "ClientRequestMiddlewareTask", "ClientResponseMiddlewareTask"]
