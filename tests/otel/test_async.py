"""soa-otel with asyncio: AsyncClient middleware, ``async def`` actions, concurrent jobs in one worker.

In this process, over the local transport (whose async side runs each job in the task that sends it,
so jobs sent from concurrent tasks run concurrently). tests/otel/test_cross_process.py does the same
over Redis, with a worker process running jobs concurrently.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from pysoa.client import Client
from pysoa.client.async_client import AsyncClient
from pysoa.errors import MessageReceiveTimeout
from tests.redis_transport.servers import RedisProcess, start_redis

from .async_services import AsyncFrontServer
from .conftest import Telemetry
from .services import BACK, FRONT, BackServer
from .test_middleware import by_name, local, parent_of, span_id


def routing(chained_middleware: tuple[str, ...] = ("otel",)) -> dict[str, Any]:
    """``otel_front`` (async actions) and ``otel_back``; the front's own clients use ``chained_middleware``."""
    back = local(BackServer, ["otel"], list(chained_middleware))
    front = local(AsyncFrontServer, ["otel"], ["otel"], client_routing={BACK: back})
    return {FRONT: front, BACK: local(BackServer, ["otel"], ["otel"])}


def hex_span(span: ReadableSpan) -> str:
    return format(span_id(span), "016x")


def test_an_async_client_and_an_async_action_calling_on_make_one_trace(telemetry: Telemetry) -> None:
    async def main() -> Any:
        async with AsyncClient(routing()) as client:
            return await client.call_action(FRONT, "relay", {}, timeout=10)

    response = asyncio.run(main())
    assert response.body["back"]["hello"] == "front"

    spans = telemetry.finished()
    assert len(spans) == 8
    assert len({span.context.trace_id for span in spans if span.context}) == 1
    client_job = by_name(spans, f"{FRONT}/job", SpanKind.CLIENT)
    server_job = by_name(spans, f"{FRONT}/job", SpanKind.SERVER)
    server_action = by_name(spans, f"{FRONT}/relay", SpanKind.SERVER)
    back_client_job = by_name(spans, f"{BACK}/job", SpanKind.CLIENT)
    back_job = by_name(spans, f"{BACK}/job", SpanKind.SERVER)
    assert client_job.parent is None
    assert parent_of(by_name(spans, f"{FRONT}/relay", SpanKind.CLIENT)) == span_id(client_job)
    assert parent_of(server_job) == span_id(client_job)
    assert parent_of(server_action) == span_id(server_job)
    assert parent_of(back_client_job) == span_id(server_action)  # the awaited request.client call
    assert parent_of(by_name(spans, f"{BACK}/hello", SpanKind.CLIENT)) == span_id(back_client_job)
    assert parent_of(back_job) == span_id(back_client_job)
    assert parent_of(by_name(spans, f"{BACK}/hello", SpanKind.SERVER)) == span_id(back_job)
    assert response.body["span_id"] == hex_span(server_action)  # the action ran with its span current
    assert client_job.attributes is not None
    assert client_job.attributes["soa.transport"] == "local"


def test_concurrent_jobs_each_get_their_own_spans_and_parents(telemetry: Telemetry) -> None:
    tracer = trace.get_tracer("tests")
    group = uuid.uuid4().hex

    async def call(client: AsyncClient, caller: str) -> tuple[int, Any]:
        with tracer.start_as_current_span(caller) as span:
            response = await client.call_action(FRONT, "rendezvous", {"group": group, "parties": 2}, timeout=10)
            return span.get_span_context().span_id, response.body

    async def main() -> list[tuple[int, Any]]:
        async with AsyncClient(routing()) as client:
            return list(await asyncio.gather(call(client, "caller-a"), call(client, "caller-b")))

    outcomes = asyncio.run(main())  # both returned: they were inside the action at the same time

    spans = telemetry.finished()
    assert len(spans) == 2 * 8 + 2
    assert len({span.context.trace_id for span in spans if span.context}) == 2
    for caller_span_id, body in outcomes:
        [client_job] = [s for s in spans if s.name == f"{FRONT}/job" and parent_of(s) == caller_span_id]
        [server_job] = [s for s in spans if s.kind == SpanKind.SERVER and parent_of(s) == span_id(client_job)]
        [action] = [s for s in spans if s.name == f"{FRONT}/rendezvous" and parent_of(s) == span_id(server_job)]
        assert action.kind == SpanKind.SERVER
        assert body["span_id"] == hex_span(action)  # its own span was current after the other job's turn
        [chained] = [s for s in spans if s.name == f"{BACK}/job" and parent_of(s) == span_id(action)]
        assert chained.kind == SpanKind.CLIENT
        assert body["back_trace_id"] == format(client_job.context.trace_id, "032x")
    assert telemetry.total("soa.server.jobs.in_flight", **{"rpc.service": FRONT}) == 0


def test_an_async_action_in_a_one_job_at_a_time_worker_continues_the_trace(telemetry: Telemetry) -> None:
    """The sync client and worker run the async action on the server's event loop thread: the trace follows it."""
    response = Client(routing()).call_action(FRONT, "relay", {}, timeout=10)
    assert response.body["back"]["hello"] == "front"
    spans = telemetry.finished()
    assert len({span.context.trace_id for span in spans if span.context}) == 1
    server_action = by_name(spans, f"{FRONT}/relay", SpanKind.SERVER)
    assert parent_of(by_name(spans, f"{BACK}/job", SpanKind.CLIENT)) == span_id(server_action)
    assert response.body["span_id"] == hex_span(server_action)


def test_an_async_chained_client_without_soa_otel_does_not_pass_the_callers_headers_on(
    telemetry: Telemetry,
) -> None:
    async def main() -> Any:
        async with AsyncClient(routing(chained_middleware=())) as client:
            return await client.call_action(FRONT, "relay", {}, timeout=10)

    response = asyncio.run(main())
    assert "otel" not in response.body["back"]["context_keys"]
    back_job = by_name(telemetry.finished(), f"{BACK}/job", SpanKind.SERVER)
    assert back_job.parent is None


def test_an_action_error_marks_the_async_client_and_server_spans(telemetry: Telemetry) -> None:
    async def main() -> Any:
        async with AsyncClient(routing()) as client:
            return await client.call_action(FRONT, "relay", {"action": "fail"}, timeout=10)

    response = asyncio.run(main())
    assert response.body["back_errors"] == ["NOPE"]
    spans = telemetry.finished()
    for kind in (SpanKind.CLIENT, SpanKind.SERVER):
        failed = by_name(spans, f"{BACK}/fail", kind)
        assert failed.status.status_code == StatusCode.ERROR
        assert failed.attributes is not None
        assert failed.attributes["error.type"] == "NOPE"
    assert by_name(spans, f"{FRONT}/relay", SpanKind.SERVER).status.status_code == StatusCode.UNSET


@pytest.fixture
def redis(tmp_path: Any) -> Any:
    server = start_redis(tmp_path)
    yield server
    server.stop()


def nobody_serves(redis: RedisProcess) -> dict[str, Any]:
    return {BACK: {"transport": {"name": "redis", "kwargs": {"url": redis.url}}, "middleware": ["otel"]}}


def test_an_async_receive_timeout_ends_the_spans_and_counts_a_transport_failure(
    telemetry: Telemetry, redis: RedisProcess
) -> None:
    key = {"rpc.service": BACK, "error.type": "MessageReceiveTimeout", "soa.transport": "redis"}
    before = telemetry.total("soa.client.transport.failures", **key)
    calls_before = telemetry.total("rpc.client.duration", **key)

    async def main() -> None:
        async with AsyncClient(nobody_serves(redis)) as client:
            await client.call_action(BACK, "hello", timeout=0.3)

    with pytest.raises(MessageReceiveTimeout):
        asyncio.run(main())
    assert telemetry.total("soa.client.transport.failures", **key) == before + 1
    assert telemetry.total("rpc.client.duration", **key) == calls_before + 1
    job = by_name(telemetry.finished(), f"{BACK}/job", SpanKind.CLIENT)
    assert job.status.status_code == StatusCode.ERROR
    assert job.attributes is not None
    assert job.attributes["error.type"] == "MessageReceiveTimeout"
    assert by_name(telemetry.finished(), f"{BACK}/hello", SpanKind.CLIENT).end_time is not None


def test_a_cancelled_call_ends_its_spans_and_is_no_transport_failure(telemetry: Telemetry, redis: RedisProcess) -> None:
    on_redis = {"rpc.service": BACK, "soa.transport": "redis"}
    failures_before = telemetry.total("soa.client.transport.failures", **on_redis)
    sent_before = telemetry.total("rpc.client.request.size", **on_redis)

    async def main() -> None:
        async with AsyncClient(nobody_serves(redis)) as client:
            call = asyncio.create_task(client.call_action(BACK, "hello", timeout=10))
            while telemetry.total("rpc.client.request.size", **on_redis) == sent_before:  # until it awaits a response
                await asyncio.sleep(0.01)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    asyncio.run(asyncio.wait_for(main(), 10))
    job = by_name(telemetry.finished(), f"{BACK}/job", SpanKind.CLIENT)
    assert job.status.status_code == StatusCode.ERROR
    assert job.attributes is not None
    assert job.attributes["error.type"] == "CancelledError"
    assert telemetry.total("soa.client.transport.failures", **on_redis) == failures_before


def test_a_request_too_large_to_send_is_a_transport_failure_on_both_clients(telemetry: Telemetry) -> None:
    """The send side of transport failures: the request never leaves, its spans end with the exception's class."""
    from pysoa.errors import MessageTooLarge

    routing = local(BackServer, ["otel"], ["otel"])
    routing["transport"]["kwargs"]["maximum_message_size_in_bytes"] = 200
    key = {"rpc.service": BACK, "soa.transport": "local", "error.type": "MessageTooLarge"}
    before = telemetry.total("soa.client.transport.failures", **key)

    with pytest.raises(MessageTooLarge):
        Client({BACK: routing}).call_action(BACK, "hello", {"name": "x" * 500}, timeout=10)

    async def main() -> None:
        async with AsyncClient({BACK: routing}) as client:
            await client.call_action(BACK, "hello", {"name": "x" * 500}, timeout=10)

    with pytest.raises(MessageTooLarge):
        asyncio.run(main())
    assert telemetry.total("soa.client.transport.failures", **key) == before + 2
    jobs = [span for span in telemetry.finished() if span.name == f"{BACK}/job"]
    assert [span.kind for span in jobs] == [SpanKind.CLIENT, SpanKind.CLIENT]  # no server ever saw them
    for job in jobs:
        assert job.status.status_code == StatusCode.ERROR
        assert job.attributes is not None
        assert job.attributes["error.type"] == "MessageTooLarge"
