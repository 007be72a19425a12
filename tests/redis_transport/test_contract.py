"""The transport contract suite (pysoa.test.contract) over Redis: two worker processes per service,
a real redis-server, both serializers and both protocol versions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server import Server
from pysoa.test.contract import Connect, ServerProcesses, TransportContract
from tests.redis_transport.servers import start_redis

pytestmark = pytest.mark.redis


class _RedisWorkers(ServerProcesses):
    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            lambda _server_class: {
                "transport": {"name": "redis", "kwargs": {"url": url}},
                "harakiri": {"timeout": 0, "shutdown_grace": 5},
            }
        )


@pytest.fixture(scope="module")
def redis_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_RedisWorkers]:
    server = start_redis(tmp_path_factory.mktemp("contract-redis"))
    workers = _RedisWorkers(server.url)
    try:
        yield workers
    finally:
        workers.stop()
        server.stop()


class TestRedisMsgpackV3(TransportContract):
    serializer = "msgpack"
    protocol_version = 3

    @pytest.fixture
    def connect(self, redis_workers: _RedisWorkers) -> Connect:
        def connect(server_class: type[Server]) -> Client:
            redis_workers.start(server_class)
            kwargs: dict[str, Any] = {
                "url": redis_workers.url,
                "default_serializer_config": self.serializer,
                "protocol_version": self.protocol_version,
            }
            return Client({server_class.service_name or "": {"transport": {"name": "redis", "kwargs": kwargs}}})

        return connect


class TestRedisJsonV3(TestRedisMsgpackV3):
    serializer = "json"
    typed_values = False


class TestRedisMsgpackV2(TestRedisMsgpackV3):
    protocol_version = 2


class _RedisClusterWorkers(ServerProcesses):
    def __init__(self, seeds: list[str]) -> None:
        self.seeds = seeds
        super().__init__(
            lambda _server_class: {
                "transport": {"name": "redis", "kwargs": {"cluster": {"hosts": seeds}}},
                "harakiri": {"timeout": 0, "shutdown_grace": 5},
            }
        )


@pytest.fixture(scope="module")
def redis_cluster_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_RedisClusterWorkers]:
    from tests.redis_transport.cluster_servers import start_redis_cluster

    cluster = start_redis_cluster(tmp_path_factory.mktemp("contract-redis-cluster"))
    workers = _RedisClusterWorkers(list(cluster.seeds[:2]))
    try:
        yield workers
    finally:
        workers.stop()
        cluster.stop()


class TestRedisClusterMsgpackV3(TransportContract):
    """The contract over a Redis Cluster (3 masters, 3 replicas): queues spread over key slots."""

    @pytest.fixture
    def connect(self, redis_cluster_workers: _RedisClusterWorkers) -> Connect:
        def connect(server_class: type[Server]) -> Client:
            redis_cluster_workers.start(server_class)
            kwargs: dict[str, Any] = {"cluster": {"hosts": redis_cluster_workers.seeds}}
            return Client({server_class.service_name or "": {"transport": {"name": "redis", "kwargs": kwargs}}})

        return connect
