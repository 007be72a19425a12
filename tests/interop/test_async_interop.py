"""asyncio against the real PySOA 1.4.9, both ways, over Redis.

* soa-core's AsyncClient (async Redis transport) calls PySOA 1.4.9 servers;
* the PySOA 1.4.9 client calls a concurrent soa-core worker whose ``square`` and ``echo`` are ``async def``,
  and must see exactly what PySOA's own server answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pysoa.client.async_client import AsyncClient
from pysoa.common.types import ActionResponse, Error
from pysoa.errors import CallActionError
from tests.redis_transport.servers import RedisProcess

from .async_services import SOACORE_ASYNC_SERVICE
from .services import CHUNK_THRESHOLD, PYSOA_CHUNK_SERVICE, PYSOA_SERVICE
from .test_pysoa_client_to_soacore_server import FAIL_ERROR, failed, ok, run_on_both
from .workers import start_soacore_worker

if TYPE_CHECKING:
    from .conftest import PySOAServers, SoaCoreServers

pytestmark = [pytest.mark.interop, pytest.mark.redis]


@pytest.fixture(scope="module")
def async_worker(interop_redis: RedisProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    kwargs = {
        "url": interop_redis.url,
        "receive_timeout_in_seconds": 1,
        "chunk_messages_larger_than_bytes": CHUNK_THRESHOLD,
    }
    worker = start_soacore_worker(
        "tests.interop.async_services:AsyncInteropServer", kwargs, tmp_path_factory.mktemp("aw")
    )
    yield
    assert worker.stop() == 0, worker.logs()[-3000:]


@pytest.fixture
def redis_port(
    interop_redis: RedisProcess, soacore_servers: SoaCoreServers, pysoa_servers: PySOAServers, async_worker: None
) -> int:
    return interop_redis.port


def client(redis_server: RedisProcess, **kwargs: Any) -> AsyncClient:
    transport = {"name": "redis", "kwargs": {"url": redis_server.url, **kwargs}}
    return AsyncClient({name: {"transport": transport} for name in (PYSOA_SERVICE, PYSOA_CHUNK_SERVICE)})


# --- AsyncClient -> PySOA 1.4.9 ---------------------------------------------------------------------------------------


def test_the_async_client_calls_pysoa_concurrently(interop_redis: RedisProcess, pysoa_servers: PySOAServers) -> None:
    async def main() -> list[Any]:
        async with client(interop_redis) as async_client:
            return await asyncio.gather(
                *(async_client.call_action(PYSOA_SERVICE, "square", {"number": n}, timeout=20) for n in range(30))
            )

    responses = asyncio.run(main())
    assert responses == [ActionResponse("square", [], {"square": n * n}) for n in range(30)]


def test_pysoa_errors_reach_the_async_client_as_soa_core_errors(
    interop_redis: RedisProcess, pysoa_servers: PySOAServers
) -> None:
    async def main() -> None:
        async with client(interop_redis) as async_client:
            await async_client.call_action(PYSOA_SERVICE, "fail", timeout=10)

    with pytest.raises(CallActionError) as caught:
        asyncio.run(main())
    assert caught.value.actions[0].errors == [
        Error(code="INVALID", message="fail was asked to fail", field="reason", is_caller_error=True)
    ]


@pytest.mark.parametrize(("version", "serializer"), [(3, "msgpack"), (3, "json"), (2, "json")])
def test_the_async_client_reads_pysoa_responses_in_every_framing(
    interop_redis: RedisProcess, pysoa_servers: PySOAServers, version: int, serializer: str
) -> None:
    async def main() -> Any:
        async_client = client(interop_redis, protocol_version=version, default_serializer_config=serializer)
        response = await async_client.call_action(PYSOA_SERVICE, "echo", {"text": "héllo"}, timeout=10)
        await async_client.aclose()
        return response.body

    assert asyncio.run(main()) == {"text": "héllo"}


def test_the_async_client_reassembles_a_pysoa_chunked_response(
    interop_redis: RedisProcess, pysoa_servers: PySOAServers
) -> None:
    async def main() -> Any:
        async with client(interop_redis) as async_client:
            return await async_client.call_action(PYSOA_CHUNK_SERVICE, "big", {"size": 300_000}, timeout=20)

    assert asyncio.run(main()).body == {"data": "x" * 300_000}


# --- PySOA 1.4.9 client -> concurrent soa-core worker ---------------------------------------------------------------


def test_the_pysoa_client_sees_async_actions_exactly_as_pysoas_own(redis_port: int) -> None:
    body = {"text": "héllo", "nested": {"list": [1, "two", None, 2.5, True]}, "big": 2**40}
    square, echoed, job, parallel = run_on_both(
        redis_port,
        {"call": "call_action", "action": "square", "body": {"number": 12}},
        {"call": "call_action", "action": "echo", "body": body},
        {
            "call": "call_actions",
            "actions": [{"action": "square", "body": {"number": 2}}, {"action": "fail"}],
            "raise_action_errors": False,
        },
        {"call": "call_actions_parallel", "actions": [{"action": "square", "body": {"number": n}} for n in range(5)]},
        soacore=SOACORE_ASYNC_SERVICE,
        pysoa=PYSOA_CHUNK_SERVICE,
    )
    assert ok(square) == {"action": "square", "errors": [], "body": {"square": 144}}
    assert ok(echoed)["body"] == body
    assert ok(job)["actions"][1] == {"action": "fail", "errors": [FAIL_ERROR], "body": {}}
    assert [r["body"]["square"] for r in ok(parallel)] == [0, 1, 4, 9, 16]


@pytest.mark.parametrize(("protocol_version", "serializer"), [(1, "msgpack"), (2, "json"), (3, "json")])
def test_a_concurrent_worker_answers_pysoa_in_its_framing(
    redis_port: int, protocol_version: int, serializer: str
) -> None:
    [result] = run_on_both(
        redis_port,
        {"call": "call_action", "action": "echo", "body": {"x": [1, "two"]}},
        soacore=SOACORE_ASYNC_SERVICE,
        pysoa=PYSOA_CHUNK_SERVICE,
        protocol_version=protocol_version,
        serializer=serializer,
    )
    assert ok(result)["body"] == {"x": [1, "two"]}


def test_a_concurrent_worker_chunks_a_large_response_for_the_pysoa_v3_client(redis_port: int) -> None:
    big, too_large_for_v2 = run_on_both(
        redis_port,
        {"call": "call_action", "action": "big", "body": {"size": 300_000}},
        {"call": "call_action", "action": "big", "body": {"size": 300_000}, "protocol_version": 2},
        soacore=SOACORE_ASYNC_SERVICE,
        pysoa=PYSOA_CHUNK_SERVICE,
    )
    assert ok(big) == {"action": "big", "errors": [], "body": {"data": "x" * 300_000}}
    assert failed(too_large_for_v2)["errors"][0]["code"] == "RESPONSE_TOO_LARGE"
