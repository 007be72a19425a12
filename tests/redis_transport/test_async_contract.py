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
from tests.redis_transport.cluster_servers import start_redis_cluster
from tests.redis_transport.servers import start_redis
from tests.redis_transport.test_contract import (  # noqa: F401 - fixtures
    _RedisClusterWorkers,
    _RedisWorkers,
    redis_cluster_workers,
    redis_workers,
)

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


class TestAsyncClientRedisCluster(TransportContract):
    """AsyncClient over a Redis Cluster (3 masters, 3 replicas), served by sync workers."""

    @pytest.fixture
    def connect(
        self,
        redis_cluster_workers: _RedisClusterWorkers,  # noqa: F811
        event_loop_thread: LoopThread,
    ) -> Iterator[Connect]:
        def transport(server_class: type[Server]) -> dict[str, Any]:
            redis_cluster_workers.start(server_class)
            return {"name": "redis", "kwargs": {"cluster": {"hosts": redis_cluster_workers.seeds}}}

        connect, close_all = async_connect(event_loop_thread, transport)
        yield connect
        close_all()


class _ConcurrentWorkers(ServerProcesses):
    """One worker per service with ``async_jobs_per_worker`` set: sync actions go through the concurrent loop."""

    def __init__(self, backend: dict[str, Any]) -> None:
        # The workers' idle pops are short (a stop is noticed soon); a client's calls wait as long as usual, so a
        # loaded machine does not fail them, while a lost message still would.
        server_transport = {"name": "redis", "kwargs": {**backend, "receive_timeout_in_seconds": 0.5}}
        self.transport = {"name": "redis", "kwargs": {**backend, "receive_timeout_in_seconds": 5}}
        super().__init__(
            lambda _server_class: {
                "transport": server_transport,
                "harakiri": {"timeout": 0, "shutdown_grace": 5},
                "async_jobs_per_worker": 4,
            },
            count=1,
        )


@pytest.fixture(scope="module")
def concurrent_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ConcurrentWorkers]:
    server = start_redis(tmp_path_factory.mktemp("contract-concurrent-redis"))
    workers = _ConcurrentWorkers({"url": server.url})
    try:
        yield workers
    finally:
        workers.stop()
        server.stop()


@pytest.fixture(scope="module")
def concurrent_cluster_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ConcurrentWorkers]:
    """Concurrent workers (the async server transport) on a Redis Cluster of 3 masters and 3 replicas."""
    cluster = start_redis_cluster(tmp_path_factory.mktemp("contract-concurrent-cluster"))
    workers = _ConcurrentWorkers({"cluster": {"hosts": cluster.seeds[:2]}})
    try:
        yield workers
    finally:
        workers.stop()
        cluster.stop()


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


class TestAsyncClientConcurrentWorkerRedisCluster(TransportContract):
    """Async on both sides over a Redis Cluster: AsyncClient and concurrent workers."""

    @pytest.fixture
    def connect(
        self, concurrent_cluster_workers: _ConcurrentWorkers, event_loop_thread: LoopThread
    ) -> Iterator[Connect]:
        def transport(server_class: type[Server]) -> dict[str, Any]:
            concurrent_cluster_workers.start(server_class)
            return concurrent_cluster_workers.transport

        connect, close_all = async_connect(event_loop_thread, transport)
        yield connect
        close_all()
