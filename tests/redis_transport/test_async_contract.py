"""The transport contract suite (pysoa.test.contract) through AsyncClient over Redis (redis.asyncio),
and through workers that run jobs concurrently (``async_jobs_per_worker``), with sync and async clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server import Server
from pysoa.test.contract import Connect, ServerProcesses, TransportContract
from tests.aio.blocking import LoopThread, async_connect
from tests.redis_transport.servers import start_redis
from tests.redis_transport.test_contract import _RedisWorkers, redis_workers  # noqa: F401 - a fixture

pytestmark = pytest.mark.redis


class TestAsyncClientRedisMsgpackV3(TransportContract):
    serializer = "msgpack"
    protocol_version = 3

    @pytest.fixture
    def connect(self, redis_workers: _RedisWorkers, event_loop_thread: LoopThread) -> Iterator[Connect]:  # noqa: F811
        def transport(server_class: type[Server]) -> dict[str, Any]:
            redis_workers.start(server_class)
            kwargs = {
                "url": redis_workers.url,
                "default_serializer_config": self.serializer,
                "protocol_version": self.protocol_version,
            }
            return {"name": "redis", "kwargs": kwargs}

        connect, close_all = async_connect(event_loop_thread, transport)
        yield connect
        close_all()


class TestAsyncClientRedisJsonV2(TestAsyncClientRedisMsgpackV3):
    serializer = "json"
    protocol_version = 2
    typed_values = False


class _ConcurrentWorkers(ServerProcesses):
    """One worker per service with ``async_jobs_per_worker`` set: sync actions go through the concurrent loop."""

    def __init__(self, url: str) -> None:
        self.transport = {"name": "redis", "kwargs": {"url": url, "receive_timeout_in_seconds": 0.5}}
        super().__init__(
            lambda _server_class: {
                "transport": self.transport,
                "harakiri": {"timeout": 0, "shutdown_grace": 5},
                "async_jobs_per_worker": 4,
            },
            count=1,
        )


@pytest.fixture(scope="module")
def concurrent_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ConcurrentWorkers]:
    server = start_redis(tmp_path_factory.mktemp("contract-concurrent-redis"))
    workers = _ConcurrentWorkers(server.url)
    try:
        yield workers
    finally:
        workers.stop()
        server.stop()


class TestSyncClientConcurrentWorkerRedis(TransportContract):
    @pytest.fixture
    def connect(self, concurrent_workers: _ConcurrentWorkers) -> Connect:
        def connect(server_class: type[Server]) -> Client:
            concurrent_workers.start(server_class)
            return Client({server_class.service_name or "": {"transport": concurrent_workers.transport}})

        return connect


class TestAsyncClientConcurrentWorkerRedis(TransportContract):
    @pytest.fixture
    def connect(self, concurrent_workers: _ConcurrentWorkers, event_loop_thread: LoopThread) -> Iterator[Connect]:
        def transport(server_class: type[Server]) -> dict[str, Any]:
            concurrent_workers.start(server_class)
            return concurrent_workers.transport

        connect, close_all = async_connect(event_loop_thread, transport)
        yield connect
        close_all()
