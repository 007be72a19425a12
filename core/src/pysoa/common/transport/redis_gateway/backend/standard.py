"""PySOA's ``pysoa.common.transport.redis_gateway.backend.standard``: its connection class is replaced by soa-redis.

Importing ``StandardRedisClient`` raises an :class:`ImportError` that says what to use instead.
"""

from __future__ import annotations

from typing import Any

from pysoa.common.transport.redis_gateway._replaced import replaced_by_soa_redis

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name == "StandardRedisClient":
        raise replaced_by_soa_redis(__name__, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
