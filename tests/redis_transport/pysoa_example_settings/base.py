"""Base settings: the Redis server transport, by PySOA's module path; the concrete file adds its kwargs."""

from __future__ import annotations

from typing import Any

SOA_SERVER_SETTINGS: dict[str, Any] = {
    "transport": {
        "path": "pysoa.common.transport.redis_gateway.server:RedisServerTransport",
    },
    "middleware": [],
}
