"""soa-redis: the Redis transport for soa-core, wire-compatible with PySOA 1.4's Redis gateway.

Select it in client or server settings with ``'transport': 'redis'`` or
``{'name': 'redis', 'kwargs': {...}}``; see the README for every setting.
"""

from __future__ import annotations

from soa_redis._errors import RedisReceiveConnectionError, RedisSendConnectionError

__all__ = ["RedisClientTransport", "RedisReceiveConnectionError", "RedisSendConnectionError", "RedisServerTransport"]


def __getattr__(name: str) -> object:
    # The transports import redis-py; load them on first use so the plugin's entry point stays cheap.
    if name == "RedisClientTransport":
        from soa_redis.client import RedisClientTransport

        return RedisClientTransport
    if name == "RedisServerTransport":
        from soa_redis.server import RedisServerTransport

        return RedisServerTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
