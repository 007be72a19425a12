"""Fixtures: private Redis servers (see :mod:`tests.redis_transport.servers`) and transports on them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from soa_redis._backend import reset_backends

from .servers import (
    REDIS_SERVER,
    RedisProcess,
    SentinelCluster,
    TLSFiles,
    make_tls_files,
    start_redis,
    start_sentinel_cluster,
)

if REDIS_SERVER is None:  # pragma: no cover - CI installs it (scripts/ensure-redis.sh)
    raise RuntimeError("The Redis transport tests need the redis-server binary: run scripts/ensure-redis.sh")


@pytest.fixture(autouse=True)
def _fresh_backends() -> Iterator[None]:
    # Backends are shared per process per settings; servers (and so settings) change between tests.
    yield
    reset_backends()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def two_redis_servers(tmp_path: Path) -> Iterator[tuple[RedisProcess, RedisProcess]]:
    first = start_redis(tmp_path / "redis-a")
    second = start_redis(tmp_path / "redis-b")
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture
def sentinel_cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    cluster = start_sentinel_cluster(tmp_path / "sentinel")
    yield cluster
    cluster.stop()


@pytest.fixture
def tls_files(tmp_path: Path) -> TLSFiles:
    return make_tls_files(tmp_path / "tls")


@pytest.fixture
def tls_redis(tmp_path: Path, tls_files: TLSFiles) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path / "redis-tls", tls=tls_files)
    yield server
    server.stop()
