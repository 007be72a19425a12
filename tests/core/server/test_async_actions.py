"""``async def`` actions on the server: both workers, middleware (sync and async), harakiri, start-up checks."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.async_client import AsyncClient
from pysoa.common.types import ActionResponse
from pysoa.errors import ImproperlyConfigured
from pysoa.server import Server
from pysoa.server.middleware import ServerMiddleware
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest
from tests.core.services import ExampleServer

EVENTS: list[str] = []


class SyncActionMiddleware(ServerMiddleware):
    def action(self, process_action: Callable[[EnrichedActionRequest], ActionResponse]) -> Any:
        def wrapped(request: EnrichedActionRequest) -> ActionResponse:
            response = process_action(request)
            EVENTS.append(f"sync-action:{request.action}:{type(response).__name__}")
            return response

        return wrapped


class BothMiddleware(SyncActionMiddleware):
    def async_job(self, process_job: Callable[[EnrichedJobRequest], Awaitable[Any]]) -> Any:
        async def wrapped(request: EnrichedJobRequest) -> Any:
            EVENTS.append("async-job")
            return await process_job(request)

        return wrapped

    def async_action(self, process_action: Callable[[EnrichedActionRequest], Awaitable[ActionResponse]]) -> Any:
        async def wrapped(request: EnrichedActionRequest) -> ActionResponse:
            response = await process_action(request)
            EVENTS.append(f"async-action:{request.action}:{type(response).__name__}")
            return response

        return wrapped


async def nap(request: Any) -> dict[str, Any]:
    await asyncio.sleep(request.body.get("seconds", 0))
    return {"napped": True}


def sync_hello(request: Any) -> dict[str, Any]:
    return {"hello": True}


class NapServer(Server):
    service_name = "nap"
    action_class_map = {"nap": nap, "hello": sync_hello}


def routing(middleware: list[Any], **settings: Any) -> dict[str, Any]:
    server_settings = {"middleware": [{"path": f"{__name__}:{m.__name__}"} for m in middleware], **settings}
    return {
        "nap": {
            "transport": {"name": "local", "kwargs": {"server_class": NapServer, "server_settings": server_settings}}
        }
    }


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    EVENTS.clear()


def test_sync_action_middleware_sees_the_response_of_an_async_action_in_the_one_job_worker() -> None:
    response = Client(routing([SyncActionMiddleware])).call_action("nap", "nap")
    assert response.body == {"napped": True}
    assert EVENTS == ["sync-action:nap:ActionResponse"]


def test_async_middleware_wraps_async_jobs_and_actions_and_sync_middleware_wraps_sync_actions() -> None:
    async def main() -> None:
        client = AsyncClient(routing([BothMiddleware]))
        await client.call_actions("nap", [{"action": "nap"}, {"action": "hello"}])

    asyncio.run(main())
    assert EVENTS == ["async-job", "async-action:nap:ActionResponse", "sync-action:hello:ActionResponse"]


def test_a_server_whose_middleware_has_no_async_variants_runs_jobs_the_sync_way_for_an_async_client() -> None:
    async def main() -> Any:
        return await AsyncClient(routing([SyncActionMiddleware])).call_action("nap", "nap")

    assert asyncio.run(main()).body == {"napped": True}
    assert EVENTS == ["sync-action:nap:ActionResponse"]


def test_an_async_action_past_harakiri_gets_action_timeout_in_the_concurrent_path() -> None:
    async def main() -> Any:
        client = AsyncClient(routing([], harakiri={"timeout": 1, "shutdown_grace": 1}))
        return await client.call_actions(
            "nap", [{"action": "nap", "body": {"seconds": 30}}, {"action": "hello"}], raise_action_errors=False
        )

    response = asyncio.run(main())
    [timed_out] = response.actions  # and nothing more ran
    assert timed_out.errors[0].code == "ACTION_TIMEOUT"


def test_asking_for_concurrency_a_transport_cannot_give_fails_at_start_up_naming_the_setting(tmp_path: Path) -> None:
    transport = {  # a sync-only plugin
        "path": "tests.core.server.spool_transport:SpoolServerTransport",
        "kwargs": {"spool": str(tmp_path)},
    }
    server = NapServer({"transport": transport, "async_jobs_per_worker": 4})
    with pytest.raises(
        ImproperlyConfigured, match=r"async_jobs_per_worker is 4.*'spool-test' has no async server side"
    ):
        server._async_jobs_per_worker()


def test_asking_for_concurrency_with_sync_only_middleware_fails_at_start_up_naming_it() -> None:
    settings = routing([SyncActionMiddleware])["nap"]["transport"]["kwargs"]["server_settings"]
    server = NapServer({**settings, "transport": "redis", "async_jobs_per_worker": 4})
    with pytest.raises(ImproperlyConfigured, match="SyncActionMiddleware wraps jobs or actions"):
        server._async_jobs_per_worker()


def test_the_worker_kind_follows_the_actions_unless_set() -> None:
    assert ExampleServer({"transport": "redis"})._async_jobs_per_worker() == 1  # no async actions
    assert NapServer({"transport": "redis"})._async_jobs_per_worker() == 16
    assert NapServer({"transport": "redis", "async_jobs_per_worker": 1})._async_jobs_per_worker() == 1
    # Sync-only middleware: the service falls back to one job at a time instead of failing.
    settings = routing([SyncActionMiddleware])["nap"]["transport"]["kwargs"]["server_settings"]
    assert NapServer({**settings, "transport": "redis"})._async_jobs_per_worker() == 1


def test_harakiri_interrupts_an_async_action_in_the_one_job_worker() -> None:
    client = Client(routing([]))
    server = client._get_handler("nap").transport.server  # type: ignore[attr-defined]
    previous = signal.signal(signal.SIGALRM, server.harakiri)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)  # what the worker loop's harakiri alarm does, sooner
        response = client.call_actions(
            "nap", [{"action": "nap", "body": {"seconds": 30}}, {"action": "hello"}], raise_action_errors=False
        )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    [timed_out] = response.actions  # and the worker is going down: nothing more ran
    assert timed_out.errors[0].code == "ACTION_TIMEOUT"
    assert server.shutting_down
