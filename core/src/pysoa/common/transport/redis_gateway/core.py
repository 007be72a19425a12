"""PySOA's ``pysoa.common.transport.redis_gateway.core``: its transport cores are replaced by soa-redis.

Importing ``RedisTransportCore`` (or its client and server variants) raises an :class:`ImportError` that says what
to use instead: the transports themselves, ``RedisClientTransport`` and ``RedisServerTransport``.
"""

from __future__ import annotations

from typing import Any

from pysoa.common.transport.redis_gateway._replaced import replaced_by_soa_redis

__all__: list[str] = []

_REPLACED = frozenset({"RedisTransportClientCore", "RedisTransportCore", "RedisTransportServerCore"})


def __getattr__(name: str) -> Any:
    if name in _REPLACED:
        raise replaced_by_soa_redis(__name__, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
