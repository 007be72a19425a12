"""pysoa.client.Client and pysoa.server.Server talking over the Redis transport."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.types import ActionResponse
from pysoa.errors import CallJobError, MessageReceiveTimeout, TransientTransportError
from pysoa.server import Server
from tests.core.services import ExampleServer

from .servers import RedisProcess

pytestmark = pytest.mark.redis


class _Worker(threading.Thread):
    """A server handling requests in a thread (``Server.run`` wants the main thread for its signals)."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.stopping = threading.Event()

    def run(self) -> None:
        self.server.setup()
        while not self.stopping.is_set():
            try:
                self.server.handle_next_request()
            except TransientTransportError:
                time.sleep(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


StartWorkers = Callable[..., None]


@pytest.fixture
def start_workers(redis_server: RedisProcess) -> Iterator[StartWorkers]:
    workers: list[_Worker] = []

    def start(count: int = 1, **transport_kwargs: Any) -> None:
        kwargs = {"url": redis_server.url, "receive_timeout_in_seconds": 0.2, **transport_kwargs}
        for _ in range(count):
            worker = _Worker(ExampleServer({"transport": {"name": "redis", "kwargs": kwargs}}))
            worker.start()
            workers.append(worker)

    yield start
    for worker in workers:
        worker.stop()


def _client(redis_server: RedisProcess, **transport_kwargs: Any) -> Client:
    kwargs = {"url": redis_server.url, **transport_kwargs}
    return Client({"example": {"transport": {"name": "redis", "kwargs": kwargs}}})


def test_call_action(redis_server: RedisProcess, start_workers: StartWorkers) -> None:
    start_workers()
    response = _client(redis_server).call_action("example", "square", {"number": 7}, timeout=5)
    assert response.body == {"square": 49}


@pytest.mark.parametrize(("version", "serializer"), [(2, "json"), (3, "json"), (1, "msgpack")])
def test_older_protocol_versions_and_json(
    redis_server: RedisProcess, start_workers: StartWorkers, version: int, serializer: str
) -> None:
    start_workers()
    client = _client(redis_server, protocol_version=version, default_serializer_config=serializer)
    assert client.call_action("example", "echo", {"text": "héllo"}, timeout=5).body == {"text": "héllo"}


def test_parallel_calls(redis_server: RedisProcess, start_workers: StartWorkers) -> None:
    start_workers(2)
    responses = _client(redis_server).call_actions_parallel(
        "example", [{"action": "square", "body": {"number": n}} for n in range(10)], timeout=5
    )
    assert [r.body["square"] for r in responses] == [n * n for n in range(10)]


def test_chunked_responses_under_parallel_calls(redis_server: RedisProcess, start_workers: StartWorkers) -> None:
    start_workers(2, chunk_messages_larger_than_bytes=102_400, maximum_message_size_in_bytes=1_000_000)
    sizes = [300_000, 10, 150_000, 250_000, 5]
    responses = _client(redis_server).call_actions_parallel(
        "example", [{"action": "big", "body": {"size": size}} for size in sizes], timeout=10
    )
    assert [len(r.body["data"]) for r in responses] == sizes


def test_the_call_after_a_timeout_works(redis_server: RedisProcess, start_workers: StartWorkers) -> None:
    start_workers()
    client = _client(redis_server)
    with pytest.raises(MessageReceiveTimeout):
        client.call_action("example", "sleep", {"seconds": 0.6}, timeout=0.2)
    # The late reply to the first call arrives while the second waits; it is dropped by its id.
    started = time.monotonic()
    response = client.call_action("example", "square", {"number": 3}, timeout=5)
    assert isinstance(response, ActionResponse)
    assert response.body == {"square": 9}
    assert time.monotonic() - started < 2.0


def test_settings_written_for_pysoa_work_unchanged(redis_server: RedisProcess) -> None:
    kwargs = {
        "backend_type": "redis.standard",
        "backend_layer_kwargs": {"hosts": [(redis_server.host, redis_server.port)], "redis_db": 0},
        "default_serializer_config": {"path": "pysoa.common.serializer:JSONSerializer"},
        "receive_timeout_in_seconds": 1,
    }
    server_transport = {"path": "pysoa.common.transport.redis_gateway.server:RedisServerTransport", "kwargs": kwargs}
    client_transport = {"path": "pysoa.common.transport.redis_gateway.client:RedisClientTransport", "kwargs": kwargs}
    worker = _Worker(ExampleServer({"transport": server_transport}))
    worker.start()
    try:
        client = Client({"example": {"transport": client_transport}})
        assert client.call_action("example", "square", {"number": 5}, timeout=5).body == {"square": 25}
    finally:
        worker.stop()


def test_a_request_too_large_for_the_server_gets_a_clear_error_not_a_timeout(
    redis_server: RedisProcess, start_workers: StartWorkers
) -> None:
    start_workers(maximum_message_size_in_bytes=120_000)
    client = _client(redis_server, maximum_message_size_in_bytes=1_000_000)  # mismatched limits
    started = time.monotonic()
    with pytest.raises(CallJobError) as caught:
        client.call_action("example", "echo", {"blob": "x" * 200_000}, timeout=10)
    assert time.monotonic() - started < 5  # answered, not timed out
    [error] = caught.value.errors
    assert error.code == "REQUEST_TOO_LARGE"
    assert "maximum_message_size_in_bytes is 120000" in (error.message or "")
    assert error.is_caller_error is True
    assert client.call_action("example", "square", {"number": 4}, timeout=5).body == {"square": 16}


def test_switches_chain_through_request_client_across_worker_hops(redis_server: RedisProcess) -> None:
    """outer -> middle -> inner, each served by its own worker over Redis: the caller's switches reach inner."""
    from tests.core.client.test_switch_chaining import InnerServer, MiddleServer, OuterServer

    transport = {"name": "redis", "kwargs": {"url": redis_server.url, "receive_timeout_in_seconds": 0.2}}
    routing = {name: {"transport": transport} for name in ("inner", "middle")}
    workers = [
        _Worker(server_class({"transport": transport, "client_routing": routing}))
        for server_class in (OuterServer, MiddleServer, InnerServer)
    ]
    for worker in workers:
        worker.start()
    try:
        client = Client({"outer": {"transport": transport}})
        body = client.call_action("outer", "call_inner", {"style": "two_hops"}, switches=[5, 3], timeout=10).body
        assert body == {"switches": [3, 5]}
        parallel = client.call_action(
            "outer", "call_inner", {"style": "call_actions_parallel", "extra": [8]}, timeout=10
        )
        assert parallel.body == {"switches": [8]}
    finally:
        for worker in workers:
            worker.stop()


def test_a_nested_call_inherits_the_callers_remaining_budget_across_workers(redis_server: RedisProcess) -> None:
    """front's action calls backend through request.client, each served by a worker over Redis."""
    from pysoa.common._deadline import CALL_MARGIN_SECONDS
    from tests.core.server.test_deadlines import BackendServer, FrontServer

    transport = {"name": "redis", "kwargs": {"url": redis_server.url, "receive_timeout_in_seconds": 0.2}}
    routing = {"backend": {"transport": transport}}
    workers = [
        _Worker(server_class({"transport": transport, "client_routing": routing}))
        for server_class in (FrontServer, BackendServer)
    ]
    for worker in workers:
        worker.start()
    try:
        client = Client({"front": {"transport": transport}})
        before = time.time()
        body = client.call_action("front", "call_report", timeout=8).body
        nested = body["backend"]
        assert 4 < nested["control"]["timeout"] <= 8 - CALL_MARGIN_SECONDS
        assert before < nested["control"]["deadline"] <= before + 8
        assert nested["time_left"] <= body["my_time_left"]
        # Without a timeout from the caller, the nested call keeps its own.
        assert client.call_action("front", "call_report", {"timeout": 9}).body["backend"]["control"]["timeout"] == 9
    finally:
        for worker in workers:
            worker.stop()
