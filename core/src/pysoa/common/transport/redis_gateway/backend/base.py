"""PySOA's ``pysoa.common.transport.redis_gateway.backend.base``.

``CannotGetConnectionError`` is soa-core's :class:`~pysoa.common.transport.errors.TransportConnectionError`: what
soa-redis raises when it cannot reach Redis (a Sentinel without a master, say), so ``except CannotGetConnectionError``
catches the same failures it did. PySOA's connection classes (``BaseRedisClient`` and the Lua command helpers) are
internals soa-redis replaced; importing them raises an :class:`ImportError` saying so.
"""

from __future__ import annotations

from typing import Any

from pysoa.common.transport.errors import TransportConnectionError as CannotGetConnectionError
from pysoa.common.transport.redis_gateway._replaced import replaced_by_soa_redis

__all__ = ["CannotGetConnectionError"]

_REPLACED = frozenset({"BaseRedisClient", "LuaRedisCommand", "SendMessageToQueueCommand"})


def __getattr__(name: str) -> Any:
    if name in _REPLACED:
        raise replaced_by_soa_redis(__name__, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
