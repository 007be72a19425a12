"""soa-core's test helpers with asyncio code: stub_action, the server test cases and the pytest fixtures."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from pysoa.client import AsyncClient
from pysoa.errors import CallActionError
from pysoa.server import Server
from pysoa.test.server import PyTestServerTestCase
from pysoa.test.stub_service import stub_action
from tests.aio.services import AsyncService


async def relay(request: Any) -> dict[str, Any]:
    """Calls another service through its async request.client."""
    response = await request.client.call_action("users", "get_user", {"id": request.body["id"]})
    return {"user": response.body}


class RelayServer(Server):
    service_name = "relay"
    action_class_map = {"relay": relay}


RELAY = {"relay": {"transport": {"name": "local", "kwargs": {"server_class": RelayServer, "server_settings": {}}}}}


def test_stub_action_answers_an_async_client() -> None:
    async def main() -> Any:
        return await AsyncClient({}).call_action("users", "get_user", {"id": 3})

    with stub_action("users", "get_user", body={"name": "ann"}) as mock:
        assert asyncio.run(main()).body == {"name": "ann"}
    assert mock.call_body == {"id": 3}


def test_stub_action_answers_the_async_request_client_of_an_async_action() -> None:
    async def main() -> Any:
        return await AsyncClient(RELAY).call_action("relay", "relay", {"id": 7})

    with stub_action("users", "get_user", body={"name": "bob"}) as mock:
        assert asyncio.run(main()).body == {"user": {"name": "bob"}}
    assert mock.call_body == {"id": 7}


def test_a_job_mixing_stubbed_and_real_actions_is_put_back_together_in_order() -> None:
    routing = {
        "async_service": {
            "transport": {"name": "local", "kwargs": {"server_class": AsyncService, "server_settings": {}}}
        }
    }

    async def main() -> Any:
        return await AsyncClient(routing).call_actions(
            "async_service",
            [{"action": "square", "body": {"number": 3}}, {"action": "sync_echo", "body": {"a": 1}}],
        )

    with stub_action("async_service", "sync_echo", body={"stubbed": True}):
        response = asyncio.run(main())
    assert [a.body for a in response.actions] == [{"square": 9}, {"stubbed": True}]


def test_a_stubbed_error_raises_for_an_async_client() -> None:
    async def main() -> Any:
        return await AsyncClient({}).call_action("users", "get_user")

    with (
        stub_action("users", "get_user", errors=[{"code": "NOT_FOUND", "message": "nope"}]),
        pytest.raises(CallActionError) as caught,
    ):
        asyncio.run(main())
    assert caught.value.actions[0].errors[0].code == "NOT_FOUND"


@stub_action("users", "get_user", body={"name": "decorated"})
async def _decorated(stub: Any) -> Any:
    return (await AsyncClient({}).call_action("users", "get_user")).body, stub.call_count


def test_stub_action_decorates_a_coroutine_function() -> None:
    assert asyncio.run(_decorated()) == ({"name": "decorated"}, 1)  # type: ignore[call-arg]


class TestAsyncActionsInAServerTestCase(PyTestServerTestCase):
    server_class = AsyncService
    server_settings: ClassVar[Mapping[str, Any] | None] = {}

    def test_an_async_action_runs(self) -> None:
        assert self.call_action("square", {"number": 4}).body == {"square": 16}

    def test_an_async_actions_validation_errors(self) -> None:
        self.assertActionRunsWithOnlyFieldErrors("square", {}, {"number": "MISSING"})


@pytest.fixture(scope="module")
def server_class() -> type[Server]:
    return AsyncService


@pytest.fixture(scope="module")
def server_settings() -> dict[str, Any]:
    return {}


def test_the_service_client_fixture_calls_async_actions(service_client: Any) -> None:
    assert service_client.call_action("square", {"number": 5}).body == {"square": 25}


def test_stub_action_answers_async_send_request_and_get_all_responses() -> None:
    routing = {
        "async_service": {
            "transport": {"name": "local", "kwargs": {"server_class": AsyncService, "server_settings": {}}}
        }
    }

    async def main() -> list[Any]:
        client = AsyncClient(routing)
        mixed = await client.send_request(
            "async_service",
            [{"action": "square", "body": {"number": 3}}, {"action": "sync_echo", "body": {"a": 1}}],
        )
        real = await client.send_request("async_service", [{"action": "square", "body": {"number": 4}}])
        got = [(rid, [a.body for a in r.actions]) async for rid, r in client.get_all_responses("async_service")]
        assert {rid for rid, _ in got} == {mixed, real}
        assert mixed < 0  # stubbed primitive jobs get ids of their own
        return [bodies for _, bodies in got]

    with stub_action("async_service", "sync_echo", body={"stubbed": True}) as mock:
        results = asyncio.run(main())
    assert sorted(results, key=len) == [[{"square": 16}], [{"square": 9}, {"stubbed": True}]]
    assert mock.call_body == {"a": 1}
