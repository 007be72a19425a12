"""Fixtures for the interop suite: one private Redis shared by soa-core workers and PySOA 1.4.9 peer servers.

Started once per session (a few hundred milliseconds each) and shared by both directions, so a job list can mix
services of both libraries. The PySOA 1.4.9 venv is built by ``pytest_collection_finish`` (from
tests/pysoa149/conftest.py), before any test's timeout starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from soa_redis._backend import reset_backends
from tests.pysoa149.conftest import pysoa149_python, pytest_collection_finish
from tests.pysoa149.harness import PeerServer, start_peer_server
from tests.redis_transport.servers import RedisProcess, start_redis

from .services import CHUNK_THRESHOLD, PYSOA_CHUNK_SERVICE, PYSOA_SERVICE
from .workers import SoaCoreWorker, start_soacore_worker

__all__ = ["pysoa149_python", "pytest_collection_finish"]  # re-exported so pytest registers them here too


@pytest.fixture(scope="session")
def interop_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path_factory.mktemp("interop-redis"))
    yield server
    reset_backends()  # this process's shared connections point at the server that is going away
    server.stop()


@dataclass
class SoaCoreServers:
    workers: list[SoaCoreWorker]


@pytest.fixture(scope="session")
def soacore_servers(interop_redis: RedisProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoaCoreServers]:
    """``soacore`` (2 workers, no chunking) and ``soacore_chunk`` (1 worker, chunks above 102,400 bytes)."""
    logs = tmp_path_factory.mktemp("soacore-workers")
    base = {"url": interop_redis.url, "receive_timeout_in_seconds": 1}
    plan = [
        ("tests.interop.services:InteropServer", base),
        ("tests.interop.services:InteropServer", base),
        ("tests.interop.services:ChunkingInteropServer", {**base, "chunk_messages_larger_than_bytes": CHUNK_THRESHOLD}),
    ]
    workers: list[SoaCoreWorker] = []
    try:
        for path, kwargs in plan:
            workers.append(start_soacore_worker(path, kwargs, logs))
        yield SoaCoreServers(workers)
    finally:
        for worker in workers:
            worker.signal_stop()
        for worker in workers:
            worker.stop()


@dataclass
class PySOAServers:
    plain: PeerServer
    chunking: PeerServer


@pytest.fixture(scope="session")
def pysoa_servers(pysoa149_python: Path, interop_redis: RedisProcess) -> Iterator[PySOAServers]:
    """PySOA 1.4.9 services ``pysoa149`` and ``pysoa149_chunk`` (chunks above 102,400 bytes)."""
    with (
        start_peer_server(interop_redis.port, service=PYSOA_SERVICE) as plain,
        start_peer_server(
            interop_redis.port,
            service=PYSOA_CHUNK_SERVICE,
            chunk_messages_larger_than_bytes=CHUNK_THRESHOLD,
            maximum_message_size_in_bytes=600_000,  # PySOA insists on >= 5 x the chunk threshold
        ) as chunking,
    ):
        yield PySOAServers(plain, chunking)
