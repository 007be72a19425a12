"""Workers that run ``async def`` actions concurrently over ZeroMQ (soa_zmq._async_server).

Each worker is a real process (``pysoa.test.contract.worker`` serving tests.aio.services.AsyncService)
whose own ``request.client`` calls back into the service over ZeroMQ.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.async_client import AsyncClient
from soa_zmq._settings import server_options
from soa_zmq.router import stop_router
from tests.zmq_transport.cluster import FAST, REPO_ROOT, WORKER_DEFAULTS

SERVICE = "async_service"
StartWorker = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def endpoint(ipc_dir: Path) -> Iterator[str]:
    address = f"ipc://{ipc_dir}/async"
    yield address
    # A router a worker started (auto role) is not our child: stop it through its lock file.
    stop_router(server_options({"endpoint": address}).lock_file)


@pytest.fixture
def start_worker(endpoint: str) -> Iterator[StartWorker]:
    processes: list[subprocess.Popen[str]] = []

    def start(role: str = "auto", slots: int | None = 8) -> subprocess.Popen[str]:
        transport = {"name": "zmq", "kwargs": {"endpoint": endpoint, "role": role, **WORKER_DEFAULTS}}
        settings: dict[str, Any] = {
            "transport": transport,
            "client_routing": {SERVICE: {"transport": {"name": "zmq", "kwargs": {"endpoint": endpoint, **FAST}}}},
            "harakiri": {"timeout": 30, "shutdown_grace": 5},
        }
        if slots is not None:
            settings["async_jobs_per_worker"] = slots
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pysoa.test.contract.worker",
                "tests.aio.services:AsyncService",
                json.dumps(settings),
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "READY"
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def _client(endpoint: str) -> AsyncClient:
    return AsyncClient({SERVICE: {"transport": {"name": "zmq", "kwargs": {"endpoint": endpoint, **FAST}}}})


@pytest.mark.parametrize("role", ["auto", "standalone"])
def test_one_worker_runs_async_jobs_at_once_and_serves_its_own_calls(
    endpoint: str, start_worker: StartWorker, role: str
) -> None:
    worker = start_worker(role)

    async def main() -> tuple[list[Any], Any]:
        async with _client(endpoint) as client:
            gathered = await asyncio.gather(
                *(client.call_action(SERVICE, "gathered", {"seconds": 0.3}, timeout=30) for _ in range(8))
            )
            # One process: one job at a time, this self-call would wait for itself until its timeout.
            via = await client.call_action(SERVICE, "square_via_client", {"number": 9}, timeout=10)
            return [response.body for response in gathered], via.body

    gathered, via = asyncio.run(main())
    assert {body["pid"] for body in gathered} == {worker.pid}
    assert max(body["most"] for body in gathered) > 1
    assert via == {"square": 81, "deadline_inherited": True}


def test_the_sync_client_calls_async_and_sync_actions_of_a_concurrent_worker(
    endpoint: str, start_worker: StartWorker
) -> None:
    start_worker()
    client = Client({SERVICE: {"transport": {"name": "zmq", "kwargs": {"endpoint": endpoint, **FAST}}}})
    try:
        assert client.call_action(SERVICE, "square", {"number": 12}, timeout=30).body == {"square": 144}
        assert client.call_action(SERVICE, "sync_echo", {"x": 1}, timeout=10).body == {
            "echo": {"x": 1},
            "kind": "Client",
        }
    finally:
        client.handlers[SERVICE].transport.close()


def test_by_default_a_service_with_sync_actions_runs_one_job_at_a_time_over_zeromq(
    endpoint: str, start_worker: StartWorker
) -> None:
    # A sync action blocks a concurrent worker's loop while an idle lane of that worker stays ready at the
    # router, so the action's call to its own service could be routed back to it and wait for the action.
    # Unless async_jobs_per_worker is set, such a service's workers take one job at a time instead.
    workers = {start_worker(slots=None).pid, start_worker(slots=None).pid}
    client = Client({SERVICE: {"transport": {"name": "zmq", "kwargs": {"endpoint": endpoint, **FAST}}}})
    try:
        pids = set()
        for number in range(8):
            body = client.call_action(SERVICE, "sync_square_via_client", {"number": number}, timeout=30).body
            assert body["square"] == number * number
            pids.add(body["pid"])
        assert pids <= workers
    finally:
        client.handlers[SERVICE].transport.close()


def test_a_concurrent_worker_stops_gracefully_finishing_the_jobs_under_way(
    endpoint: str, start_worker: StartWorker, tmp_path: Path
) -> None:
    worker = start_worker()
    started = tmp_path / "started"

    async def main() -> Any:
        async with _client(endpoint) as client:
            await client.call_action(SERVICE, "square", {"number": 1}, timeout=30)
            pending = asyncio.create_task(
                client.call_action(
                    SERVICE, "slow", {"seconds": 1.0, "token": "t", "started_marker": str(started)}, timeout=10
                )
            )
            while not started.exists():
                await asyncio.sleep(0.005)  # until the worker runs the job
            worker.send_signal(signal.SIGTERM)
            return (await pending).body

    assert asyncio.run(main()) == {"slept": 1.0, "token": "t"}
    assert worker.wait(10) == 0
