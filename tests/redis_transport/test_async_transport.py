"""The Redis transport's asyncio side: AsyncClient and concurrent workers over a real redis-server.

Workers are real processes (tests/aio/worker.py) or, for the sync side, the example server in a thread.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.async_client import AsyncClient
from pysoa.errors import MessageReceiveTimeout, TransientTransportError
from tests.core.services import ExampleServer

from .servers import RedisProcess

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]


def _routing(redis_server: RedisProcess, service: str, **kwargs: Any) -> dict[str, Any]:
    return {service: {"transport": {"name": "redis", "kwargs": {"url": redis_server.url, **kwargs}}}}


class _SyncWorker(threading.Thread):
    def __init__(self, redis_server: RedisProcess) -> None:
        super().__init__(daemon=True)
        kwargs = {"url": redis_server.url, "receive_timeout_in_seconds": 0.2}
        self.server = ExampleServer({"transport": {"name": "redis", "kwargs": kwargs}})
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.server.handle_next_request()
            except TransientTransportError:
                time.sleep(0.05)


@pytest.fixture
def sync_worker(redis_server: RedisProcess) -> Iterator[None]:
    worker = _SyncWorker(redis_server)
    worker.start()
    yield
    worker.stopping.set()
    worker.join(5)


StartWorker = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def start_async_worker(redis_server: RedisProcess) -> Iterator[StartWorker]:
    processes: list[subprocess.Popen[str]] = []

    def start(slots: str = "8") -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.aio.worker", redis_server.url, slots],
            cwd=ROOT,
            env=env,
            text=True,
            stderr=subprocess.PIPE,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


def test_one_async_client_routes_100_concurrent_calls_over_one_reply_queue(
    redis_server: RedisProcess, sync_worker: None
) -> None:
    async def main() -> list[Any]:
        async with AsyncClient(_routing(redis_server, "example")) as client:
            responses = await asyncio.gather(
                *(client.call_action("example", "square", {"number": n}, timeout=20) for n in range(100))
            )
            transport = client.handlers["example"].transport
            assert len(client.handlers["example"]._router) == 0
            return [responses, transport.reply_to]  # type: ignore[attr-defined]

    responses, reply_to = asyncio.run(main())
    assert [r.body["square"] for r in responses] == [n * n for n in range(100)]
    assert "!" in reply_to
    assert redis_server.client().keys("pysoa:service.example.*") == []  # nothing left behind


def test_a_timeout_ends_the_wait_at_the_deadline_never_before(
    redis_server: RedisProcess, start_async_worker: StartWorker
) -> None:
    start_async_worker()

    async def main() -> float:
        client = AsyncClient(_routing(redis_server, "async_service"))
        await client.call_action("async_service", "square", {"number": 1}, timeout=30)  # the worker is up
        started = time.monotonic()
        with pytest.raises(MessageReceiveTimeout):
            await client.call_action("async_service", "slow", {"seconds": 5}, timeout=0.5)
        waited = time.monotonic() - started
        await client.aclose()
        return waited

    waited = asyncio.run(main())
    assert 0.5 <= waited < 2.0


def test_a_cancelled_call_abandons_its_request_and_its_late_response_goes_nowhere(
    redis_server: RedisProcess, start_async_worker: StartWorker
) -> None:
    start_async_worker()

    async def main() -> Any:
        client = AsyncClient(_routing(redis_server, "async_service"))
        await client.call_action("async_service", "square", {"number": 1}, timeout=30)
        router = client.handlers["async_service"]._router
        task = asyncio.create_task(
            client.call_action("async_service", "slow", {"seconds": 0.3, "token": "cancelled"}, timeout=10)
        )
        while not len(router):  # sent: its response is expected
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(router) == 0
        # The late response arrives while this call waits; it must not be taken for this one.
        later = await client.call_action("async_service", "slow", {"seconds": 0.6, "token": "later"}, timeout=10)
        await client.aclose()
        return later.body

    assert asyncio.run(main()) == {"slept": 0.6, "token": "later"}


def test_one_concurrent_worker_runs_async_jobs_at_once_and_serves_its_own_calls(
    redis_server: RedisProcess, start_async_worker: StartWorker
) -> None:
    start_async_worker("8")

    async def main() -> tuple[list[Any], Any]:
        async with AsyncClient(_routing(redis_server, "async_service")) as client:
            gathered = await asyncio.gather(
                *(client.call_action("async_service", "gathered", {"seconds": 0.3}, timeout=30) for _ in range(8))
            )
            # One worker: without concurrency, this self-call would wait for itself until its timeout.
            via = await client.call_action("async_service", "square_via_client", {"number": 9}, timeout=10)
            return [r.body for r in gathered], via.body

    gathered, via = asyncio.run(main())
    assert len({body["pid"] for body in gathered}) == 1
    assert max(body["most"] for body in gathered) > 1
    assert via == {"square": 81, "deadline_inherited": True}


def test_the_sync_client_calls_a_concurrent_worker(redis_server: RedisProcess, start_async_worker: StartWorker) -> None:
    start_async_worker()
    client = Client(_routing(redis_server, "async_service"))
    assert client.call_action("async_service", "square", {"number": 12}, timeout=30).body == {"square": 144}
    assert client.call_action("async_service", "sync_echo", {"x": 1}, timeout=10).body == {
        "echo": {"x": 1},
        "kind": "Client",
    }


def test_a_concurrent_worker_stops_gracefully_finishing_the_jobs_under_way(
    redis_server: RedisProcess, start_async_worker: StartWorker
) -> None:
    process = start_async_worker()

    async def main() -> Any:
        async with AsyncClient(_routing(redis_server, "async_service")) as client:
            await client.call_action("async_service", "square", {"number": 1}, timeout=30)
            pending = asyncio.create_task(
                client.call_action("async_service", "slow", {"seconds": 1.0, "token": "t"}, timeout=10)
            )
            queue = redis_server.client()
            while not len(client.handlers["async_service"]._router) or queue.llen("pysoa:service.async_service"):
                await asyncio.sleep(0.005)  # until the worker has taken the job off the queue
            process.send_signal(signal.SIGTERM)
            return (await pending).body

    assert asyncio.run(main()) == {"slept": 1.0, "token": "t"}
    assert process.wait(10) == 0


@pytest.mark.parametrize(("version", "serializer"), [(1, "msgpack"), (2, "json"), (3, "json")])
def test_older_protocols_and_json_from_an_async_client(
    redis_server: RedisProcess, sync_worker: None, version: int, serializer: str
) -> None:
    async def main() -> Any:
        routing = _routing(redis_server, "example", protocol_version=version, default_serializer_config=serializer)
        async with AsyncClient(routing) as client:
            return (await client.call_action("example", "echo", {"text": "héllo"}, timeout=10)).body

    assert asyncio.run(main()) == {"text": "héllo"}


def test_a_call_without_a_timeout_waits_for_the_transports_receive_timeout_like_the_sync_client(
    redis_server: RedisProcess, start_async_worker: StartWorker
) -> None:
    start_async_worker()

    async def main() -> float:
        routing = _routing(redis_server, "async_service", receive_timeout_in_seconds=0.5)
        async with AsyncClient(routing) as client:
            await client.call_action("async_service", "square", {"number": 1}, timeout=30)  # the worker is up
            started = time.monotonic()
            with pytest.raises(MessageReceiveTimeout):
                await client.call_action("async_service", "slow", {"seconds": 5})
            return time.monotonic() - started

    assert 0.5 <= asyncio.run(main()) < 2.0


def test_the_async_transport_finds_the_master_through_the_sentinels(sentinel_cluster: Any) -> None:
    """An AsyncClient-side transport pushes to the master the Sentinels name; a sync server answers it."""
    from soa_redis._async import AsyncRedisClientTransport
    from soa_redis.server import RedisServerTransport

    from .helpers import job, response

    settings: dict[str, Any] = {
        "backend_type": "redis.sentinel",
        "backend_layer_kwargs": {
            "hosts": [(s.host, s.port) for s in sentinel_cluster.sentinels],
            "sentinel_services": [sentinel_cluster.service],
        },
    }
    server = RedisServerTransport("svc", receive_timeout_in_seconds=2, **settings)

    async def main() -> Any:
        client = AsyncRedisClientTransport("svc", **settings)
        try:
            await client.send_request_message(1, {}, job(n=1))
            assert sentinel_cluster.master.client().llen("pysoa:service.svc") == 1
            request_id, meta, body = await asyncio.to_thread(server.receive_request_message)
            assert meta is not None
            assert body is not None
            server.send_response_message(request_id, meta, response(n=body["actions"][0]["body"]["n"]))
            return (await client.receive_response_message(2)).body
        finally:
            await client.aclose()

    assert asyncio.run(main()) == response(n=1)


def test_sentinel_without_service_names_is_refused_at_start_up() -> None:
    from pysoa.errors import ConfigurationError
    from soa_redis._async import AsyncRedisClientTransport

    with pytest.raises(ConfigurationError, match="needs the Sentinel service names"):
        AsyncRedisClientTransport("svc", sentinel={"hosts": ["127.0.0.1:26379"]})
