"""Registers the Redis transport with soa-core."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.common.transport.base import Transport
from pysoa.plugins import hookimpl


@hookimpl
def pysoa_register_transports() -> Sequence[type[Transport]]:
    from soa_redis._async import AsyncRedisClientTransport, AsyncRedisServerTransport
    from soa_redis.client import RedisClientTransport
    from soa_redis.server import RedisServerTransport

    return [RedisClientTransport, RedisServerTransport, AsyncRedisClientTransport, AsyncRedisServerTransport]
