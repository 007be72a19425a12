"""PySOA's ``pysoa.common.transport.redis_gateway.server`` path, served by the soa-redis plugin.

Settings written for PySOA (``{'path': 'pysoa.common.transport.redis_gateway.server:RedisServerTransport'}``)
keep working when soa-redis is installed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RedisServerTransport"]  # noqa: F822  (served lazily by __getattr__)


def __getattr__(name: str) -> Any:
    if name == "RedisServerTransport":
        try:
            from soa_redis import server
        except ImportError as exc:
            raise ImportError(
                "RedisServerTransport is provided by the soa-redis plugin: pip install soa-redis"
            ) from exc
        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
