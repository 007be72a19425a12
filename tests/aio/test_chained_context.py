"""Concurrent async jobs of one worker each chain their own context into the calls they make."""

from __future__ import annotations

import asyncio
from typing import Any

from pysoa.client import Client
from pysoa.client.async_client import AsyncClient
from pysoa.server import Server
from tests.aio.services import LOCAL_ROUTING


class BothInFlight:
    """Lets each job go on only once the other has started, so that their calls overlap for sure."""

    started = 0
    event: asyncio.Event | None = None


async def relay_context(request: Any) -> dict[str, Any]:
    """Waits until both jobs run, then calls another service with an AsyncClient of its own."""
    assert BothInFlight.event is not None
    BothInFlight.started += 1
    if BothInFlight.started == 2:
        BothInFlight.event.set()
    await BothInFlight.event.wait()
    own = AsyncClient(LOCAL_ROUTING)
    try:
        response = await own.call_action("async_service", "context_of", {})
    finally:
        await own.aclose()
    return {"inner_saw": response.body["context"], "inner_switches": response.body["switches"]}


async def own_client_context(request: Any) -> dict[str, Any]:
    """Calls another service with an AsyncClient of its own, at once."""
    async with AsyncClient(LOCAL_ROUTING) as own:
        response = await own.call_action("async_service", "context_of", {})
    return {"inner_saw": response.body["context"]}


class RelayService(Server):
    service_name = "relay"
    action_class_map = {"relay_context": relay_context, "own_client_context": own_client_context}


ROUTING: dict[str, Any] = {
    "relay": {"transport": {"name": "local", "kwargs": {"server_class": RelayService, "server_settings": {}}}}
}


def test_two_concurrent_jobs_in_one_worker_each_chain_their_own_context() -> None:
    async def main() -> list[Any]:
        BothInFlight.started, BothInFlight.event = 0, asyncio.Event()
        async with AsyncClient(ROUTING) as client:
            return list(
                await asyncio.gather(
                    client.call_action("relay", "relay_context", {}, correlation_id="job-a", switches=[1]),
                    client.call_action("relay", "relay_context", {}, correlation_id="job-b", switches=[2]),
                )
            )

    first, second = asyncio.run(main())
    assert first.body["inner_saw"]["correlation_id"] == "job-a"
    assert first.body["inner_switches"] == [1]
    assert second.body["inner_saw"]["correlation_id"] == "job-b"
    assert second.body["inner_switches"] == [2]
    assert first.body["inner_saw"]["calling_service"] == "relay"


def test_an_async_action_run_by_a_sync_worker_chains_the_context_on_the_event_loop_thread() -> None:
    # A sync client over the local transport runs the job the sync way: the async action is awaited
    # on the server's event loop thread, which must see the job's context too.
    response = Client(ROUTING).call_action("relay", "own_client_context", {}, correlation_id="job-c", switches=[4])
    assert response.body["inner_saw"]["correlation_id"] == "job-c"
    assert response.body["inner_saw"]["switches"] == [4]
