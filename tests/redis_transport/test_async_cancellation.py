"""A cancelled async receive ends cancelled at whichever step the cancellation lands, on a standalone Redis
and through Sentinel, against real servers (Redis Cluster: test_async_cluster.py).

redis-py writes ``BLPOP`` through ``asyncio.wait_for``, which on Python 3.11 drops a cancellation that lands as
the write completes (soa_redis._async_cancel): the receive then kept blocking until its timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .helpers import receives_surviving_cancellation
from .servers import RedisProcess, SentinelCluster

pytestmark = pytest.mark.redis


def test_on_a_standalone_redis(redis_server: RedisProcess) -> None:
    settings: dict[str, Any] = {"url": redis_server.url}
    assert asyncio.run(receives_surviving_cancellation("cancelled", settings)) == []


def test_through_sentinel(sentinel_cluster: SentinelCluster) -> None:
    settings: dict[str, Any] = {
        "backend_type": "redis.sentinel",
        "backend_layer_kwargs": {
            "hosts": [(s.host, s.port) for s in sentinel_cluster.sentinels],
            "sentinel_services": [sentinel_cluster.service],
        },
    }
    assert asyncio.run(receives_surviving_cancellation("cancelled", settings)) == []
