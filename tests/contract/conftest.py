"""The contract suite: the same tests over every transport and serializer.

Each backend fixture param yields a factory ``connect(server_class) -> Client`` that serves
``server_class`` over that transport (starting whatever the transport needs) and a client for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server import Server

Connect = Callable[[type[Server]], Client]
REPO = Path(__file__).resolve().parents[2]


def _local(serializer: str) -> Iterator[Connect]:
    def connect(server_class: type[Server]) -> Client:
        kwargs: dict[str, Any] = {"server_class": server_class, "server_settings": {}, "serializer": serializer}
        return Client({server_class.service_name or "": {"transport": {"name": "local", "kwargs": kwargs}}})

    yield connect


class _Workers:
    """Worker processes serving one server class over a real transport, started on first use."""

    def __init__(self, transport: dict[str, Any], count: int = 2) -> None:
        self.transport = transport
        self.count = count
        self.processes: dict[str, list[subprocess.Popen[str]]] = {}

    def ensure(self, server_class: type[Server]) -> None:
        path = f"{server_class.__module__}:{server_class.__qualname__}"
        if path in self.processes:
            return
        settings = json.dumps({"transport": self.transport, "harakiri": {"timeout": 0, "shutdown_grace": 5}})
        started = []
        for _ in range(self.count):
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.contract.worker", path, settings],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            started.append(process)
        self.processes[path] = started
        for process in started:
            assert process.stdout is not None
            line = process.stdout.readline()
            if line.strip() != "READY":
                stderr = process.stderr.read() if process.stderr else ""
                raise RuntimeError(f"worker for {path} did not start: {line!r} {stderr}")

    def stop(self) -> None:
        for processes in self.processes.values():
            for process in processes:
                process.terminate()
        for processes in self.processes.values():
            for process in processes:
                try:
                    process.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.communicate()


@pytest.fixture(scope="session")
def redis_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Workers]:
    from tests.redis_transport.servers import start_redis

    server = start_redis(tmp_path_factory.mktemp("contract-redis"))
    workers = _Workers({"name": "redis", "kwargs": {"url": server.url}})
    try:
        yield workers
    finally:
        workers.stop()
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Workers]:
    from tests.redis_transport.cluster_servers import start_redis_cluster

    cluster = start_redis_cluster(tmp_path_factory.mktemp("contract-redis-cluster"))
    workers = _Workers({"name": "redis", "kwargs": {"cluster": {"hosts": cluster.seeds[:2]}}})
    try:
        yield workers
    finally:
        workers.stop()
        cluster.stop()


def _redis(
    request: pytest.FixtureRequest, serializer: str, protocol_version: int, workers_fixture: str = "redis_workers"
) -> Iterator[Connect]:
    workers: _Workers = request.getfixturevalue(workers_fixture)

    def connect(server_class: type[Server]) -> Client:
        workers.ensure(server_class)
        kwargs = {
            **workers.transport["kwargs"],
            "default_serializer_config": serializer,
            "protocol_version": protocol_version,
        }
        return Client({server_class.service_name or "": {"transport": {"name": "redis", "kwargs": kwargs}}})

    yield connect


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Iterator[Connect]]] = {
    "local-msgpack": lambda _request: _local("msgpack"),
    "local-json": lambda _request: _local("json"),
    "redis-msgpack-v3": lambda request: _redis(request, "msgpack", 3),
    "redis-json-v3": lambda request: _redis(request, "json", 3),
    "redis-msgpack-v2": lambda request: _redis(request, "msgpack", 2),
    "redis-cluster-msgpack-v3": lambda request: _redis(request, "msgpack", 3, "redis_cluster_workers"),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def connect(backend: str, request: pytest.FixtureRequest) -> Iterator[Connect]:
    yield from BACKENDS[backend](request)
