"""AsyncClient and ``async def`` actions over the in-process transport (sync and async client side)."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.async_client import AsyncClient
from pysoa.client.async_middleware import AsyncClientMiddleware, AsyncRequestMiddlewareTask
from pysoa.common.settings import SettingsError
from pysoa.common.types import JobRequest, JobResponse
from pysoa.errors import CallActionError, ImproperlyConfigured, MessageReceiveTimeout
from pysoa.plugins import PluginManager, set_plugin_manager
from tests.aio.services import LOCAL_ROUTING, AsyncService, InFlight

ROUTING: dict[str, Any] = {
    "async_service": {
        "transport": {
            "name": "local",
            "kwargs": {"server_class": AsyncService, "server_settings": {"client_routing": LOCAL_ROUTING}},
        }
    }
}


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_async_and_sync_actions_answer_an_async_client() -> None:
    async def main() -> tuple[Any, Any]:
        async with AsyncClient(ROUTING) as client:
            square = await client.call_action("async_service", "square", {"number": 7})
            echo = await client.call_action("async_service", "sync_echo", {"a": 1})
            return square.body, echo.body

    square, echo = run(main())
    assert square == {"square": 49}
    assert echo == {"echo": {"a": 1}, "kind": "Client"}  # a sync action keeps the sync request.client


def test_an_async_action_answers_the_sync_client_without_a_coroutine_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = Client(ROUTING).call_action("async_service", "square", {"number": 3})
    assert response.body == {"square": 9}


def test_an_async_action_validates_its_request_like_a_sync_one() -> None:
    async def main() -> None:
        await AsyncClient(ROUTING).call_action("async_service", "square", {"number": "three"})

    with pytest.raises(CallActionError) as caught:
        run(main())
    [error] = caught.value.actions[0].errors
    assert (error.code, error.field, error.is_caller_error) == ("INVALID", "number", True)


def test_an_async_action_calls_its_own_service_through_an_async_request_client() -> None:
    async def main() -> Any:
        client = AsyncClient(ROUTING)
        kind = await client.call_action("async_service", "client_kind", timeout=5)
        via = await client.call_action("async_service", "square_via_client", {"number": 6}, timeout=5)
        return kind.body, via.body

    kind, via = run(main())
    assert kind["kind"] == "AsyncClient"
    assert 4 < kind["time_left"] <= 5
    assert via == {"square": 36, "deadline_inherited": True}


def test_concurrent_calls_from_one_task_group_share_one_connection_and_run_at_once() -> None:
    InFlight.most = 0

    async def main() -> list[Any]:
        client = AsyncClient(ROUTING)
        responses = await asyncio.gather(
            *(client.call_action("async_service", "gathered", {"seconds": 0.05}) for _ in range(20))
        )
        assert list(client.handlers) == ["async_service"]
        assert len(client.handlers["async_service"]._router) == 0
        return responses

    responses = run(main())
    assert len(responses) == 20
    assert InFlight.most > 1


def test_parallel_calls_keep_input_order_and_expansion_free_errors() -> None:
    async def main() -> Any:
        client = AsyncClient(ROUTING)
        actions = [{"action": "square", "body": {"number": n}} for n in range(5)]
        parallel = await client.call_actions_parallel("async_service", actions)
        jobs = await client.call_jobs_parallel(
            [{"service_name": "async_service", "actions": [a]} for a in actions[:2]]
            + [{"service_name": "async_service", "actions": [{"action": "square", "body": {}}]}],
            raise_action_errors=False,
        )
        return parallel, jobs

    parallel, jobs = run(main())
    assert [r.body["square"] for r in parallel] == [0, 1, 4, 9, 16]
    assert [j.actions[0].body for j in jobs[:2]] == [{"square": 0}, {"square": 1}]
    assert jobs[2].actions[0].errors[0].code == "MISSING"


def test_send_request_and_get_all_responses() -> None:
    async def main() -> list[tuple[Any, Any]]:
        client = AsyncClient(ROUTING)
        ids = [
            await client.send_request("async_service", [{"action": "square", "body": {"number": n}}]) for n in (2, 3)
        ]
        got = [(rid, r.actions[0].body) async for rid, r in client.get_all_responses("async_service")]
        assert [rid for rid, _ in got] == ids
        return got

    assert [body for _, body in run(main())] == [{"square": 4}, {"square": 9}]


def test_context_and_switches_chain_into_the_request() -> None:
    async def main() -> Any:
        client = AsyncClient(ROUTING, context={"switches": [3], "user": "ann"}).with_context(
            {"switches": [5], "user": "bob"}
        )
        return await client.call_action("async_service", "context_of", {}, switches=[7], correlation_id="c-1")

    body = run(main()).body
    assert body["switches"] == [5, 7]
    assert body["context"]["user"] == "bob"
    assert body["context"]["correlation_id"] == "c-1"


def test_a_client_with_no_time_left_sends_nothing() -> None:
    async def main() -> None:
        client = AsyncClient(ROUTING).with_deadline(0.0)
        await client.call_action("async_service", "square", {"number": 1})

    with pytest.raises(MessageReceiveTimeout, match="No time left"):
        run(main())


class StampMiddleware(AsyncClientMiddleware):
    name = "stamp"

    def request(self, send_request: AsyncRequestMiddlewareTask) -> AsyncRequestMiddlewareTask:
        async def send(request_id: Any, meta: dict[str, Any], job: JobRequest, expiry: float | None) -> None:
            job.actions[0].body["number"] = 11
            await send_request(request_id, meta, job, expiry)

        return send


def test_async_client_middleware_wraps_the_send() -> None:
    manager = PluginManager(autoload=True)
    manager.register(type("StampPlugin", (), {"pysoa_register_middleware": staticmethod(lambda: [StampMiddleware])})())
    previous = set_plugin_manager(manager)
    try:

        async def main() -> Any:
            routing = {"async_service": {**ROUTING["async_service"], "middleware": ["stamp"]}}
            return await AsyncClient(routing).call_action("async_service", "square", {"number": 2})

        assert run(main()).body == {"square": 121}
    finally:
        set_plugin_manager(previous)


def test_a_transport_without_an_async_side_is_refused_naming_it() -> None:
    with pytest.raises(SettingsError, match="No async client transport plugin named 'zmq-nope'"):
        AsyncClient({"svc": {"transport": "zmq-nope"}})


def test_an_unknown_service_is_improperly_configured() -> None:
    async def main() -> None:
        await AsyncClient(ROUTING).call_action("nope", "x")

    with pytest.raises(ImproperlyConfigured):
        run(main())


def test_switches_given_as_a_generator_reach_every_parallel_job() -> None:
    async def main() -> list[Any]:
        async with AsyncClient(ROUTING) as client:
            jobs = [{"service_name": "async_service", "actions": [{"action": "context_of"}]} for _ in range(3)]
            responses = await client.call_jobs_parallel(jobs, switches=(n for n in (2, 1)))
            return [response.actions[0].body["switches"] for response in responses if isinstance(response, JobResponse)]

    assert run(main()) == [[1, 2]] * 3
