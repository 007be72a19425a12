"""The contract suite again, through AsyncClient and through workers that run jobs concurrently.

The tests are test_contract's own; only the backends differ. An AsyncClient cannot be called from
sync test code directly, so :class:`_Blocking` gives it the sync call methods the tests use, each
call run on one event loop (in a thread) that the AsyncClient keeps for its whole life.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pysoa.client import AsyncClient
from pysoa.server import Server
from tests.contract.conftest import REPO, Connect
from tests.contract.test_contract import (  # noqa: F401 - collected here again, with these backends
    test_call_action,
    test_call_actions_with_errors_and_continue_on_error,
    test_context_and_switches_arrive,
    test_job_errors,
    test_parallel_calls_keep_input_order,
    test_status_and_introspect,
    test_typed_values,
    test_unicode_and_nesting_survive,
    test_unknown_action_and_server_error,
)


class _Loop:
    """One event loop in a daemon thread, for the whole session."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class _Blocking:
    """The sync face of an AsyncClient: each method awaits the AsyncClient's method on the loop."""

    def __init__(self, client: AsyncClient, loop: _Loop) -> None:
        self._client = client
        self._loop = loop

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        return lambda *args, **kwargs: self._loop.run(method(*args, **kwargs))


@pytest.fixture(scope="session")
def event_loop_thread() -> Iterator[_Loop]:
    loop = _Loop()
    yield loop
    loop.stop()


class _ConcurrentWorkers:
    """Worker processes with ``async_jobs_per_worker`` set, so sync actions go through the concurrent worker."""

    def __init__(self, url: str) -> None:
        self.transport = {"name": "redis", "kwargs": {"url": url, "receive_timeout_in_seconds": 0.5}}
        self.processes: dict[str, list[subprocess.Popen[str]]] = {}

    def ensure(self, server_class: type[Server]) -> None:
        path = f"{server_class.__module__}:{server_class.__qualname__}"
        if path in self.processes:
            return
        settings = {
            "transport": self.transport,
            "harakiri": {"timeout": 0, "shutdown_grace": 5},
            "async_jobs_per_worker": 4,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.contract.worker", path, json.dumps(settings)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes[path] = [process]
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(
                f"worker for {path} did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
            )

    def stop(self) -> None:
        for processes in self.processes.values():
            for process in processes:
                process.terminate()
                try:
                    process.communicate(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.communicate()
                assert process.returncode == 0


@pytest.fixture(scope="session")
def concurrent_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ConcurrentWorkers]:
    from tests.redis_transport.servers import start_redis

    server = start_redis(tmp_path_factory.mktemp("contract-async-redis"))
    workers = _ConcurrentWorkers(server.url)
    try:
        yield workers
    finally:
        workers.stop()
        server.stop()


ASYNC_BACKENDS = [
    "async-local-msgpack",
    "async-local-json",
    "async-client-redis-msgpack-v3",
    "async-client-redis-json-v2",
    "sync-client-concurrent-worker-redis",
    "async-client-concurrent-worker-redis",
]


@pytest.fixture(params=ASYNC_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def connect(backend: str, request: pytest.FixtureRequest, event_loop_thread: _Loop) -> Iterator[Connect]:
    opened: list[AsyncClient] = []

    def wrap(settings: dict[str, Any]) -> Any:
        client = event_loop_thread.run(_make_async_client(settings))
        opened.append(client)
        return _Blocking(client, event_loop_thread)

    def connect(server_class: type[Server]) -> Any:
        service = server_class.service_name or ""
        if backend.startswith("async-local"):
            serializer = backend.rsplit("-", 1)[1]
            kwargs = {"server_class": server_class, "server_settings": {}, "serializer": serializer}
            return wrap({service: {"transport": {"name": "local", "kwargs": kwargs}}})
        if "concurrent-worker" in backend:
            workers: _ConcurrentWorkers = request.getfixturevalue("concurrent_workers")
            workers.ensure(server_class)
            settings = {service: {"transport": workers.transport}}
            if backend.startswith("sync"):
                from pysoa.client import Client

                return Client(settings)
            return wrap(settings)
        redis_workers = request.getfixturevalue("redis_workers")
        redis_workers.ensure(server_class)
        _, _, _, serializer, version = backend.split("-")
        kwargs = {
            **redis_workers.transport["kwargs"],
            "default_serializer_config": serializer,
            "protocol_version": int(version[1:]),
        }
        return wrap({service: {"transport": {"name": "redis", "kwargs": kwargs}}})

    yield connect
    for client in opened:
        event_loop_thread.run(client.aclose())


async def _make_async_client(settings: dict[str, Any]) -> AsyncClient:
    return AsyncClient(settings)
