"""AsyncClient over ZeroMQ: one asyncio DEALER socket, a real router process and real worker processes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pysoa.client.async_client import AsyncClient
from pysoa.errors import MessageReceiveTimeout, MessageSendTimeout
from tests.zmq_transport.cluster import FAST, SERVICE, Cluster


def _client(cluster: Cluster, **kwargs: Any) -> AsyncClient:
    transport_kwargs = {"endpoint": cluster.endpoint.replace("*", "127.0.0.1"), **FAST, **kwargs}
    return AsyncClient({SERVICE: {"transport": {"name": "zmq", "kwargs": transport_kwargs}}})


def test_concurrent_calls_share_one_socket_and_each_gets_its_response(cluster: Cluster) -> None:
    cluster.start_router()
    workers = [cluster.add_worker(), cluster.add_worker()]

    async def main() -> list[Any]:
        async with _client(cluster) as client:
            responses = await asyncio.gather(
                *(client.call_action(SERVICE, "echo", {"n": n}, timeout=20) for n in range(50))
            )
            assert len(client.handlers[SERVICE]._router) == 0
            return [r.body for r in responses]

    bodies = asyncio.run(main())
    assert [body["n"] for body in bodies] == list(range(50))
    assert {body["pid"] for body in bodies} <= {worker.pid for worker in workers}


def test_a_call_times_out_at_its_deadline_never_before(cluster: Cluster) -> None:
    cluster.start_router()
    cluster.add_worker()

    async def main() -> float:
        async with _client(cluster) as client:
            await client.call_action(SERVICE, "echo", {}, timeout=20)  # the worker is up
            started = time.monotonic()
            with pytest.raises(MessageReceiveTimeout):
                await client.call_action(SERVICE, "sleep", {"seconds": 3}, timeout=0.5)
            return time.monotonic() - started

    assert 0.5 <= asyncio.run(main()) < 2.0


def test_a_send_with_no_router_fails_at_its_deadline(cluster: Cluster) -> None:
    async def main() -> float:
        async with _client(cluster) as client:
            started = time.monotonic()
            with pytest.raises(MessageSendTimeout, match="no connection"):
                await client.call_action(SERVICE, "echo", {}, timeout=0.3)
            return time.monotonic() - started

    assert 0.3 <= asyncio.run(main()) < 2.0
