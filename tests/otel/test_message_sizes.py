"""Message size histograms (``rpc.{client,server}.{request,response}.size``) over every transport.

Client and server run in this process (the server in a thread of its own, over real Redis and real
ZeroMQ sockets), so both sides' histograms are read from the in-memory reader. A client and a server
measure the same bytes: each request (and response) is counted once on each side with one size.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint

from pysoa.client import Client
from pysoa.client.async_client import AsyncClient
from pysoa.server import Server
from soa_redis._backend import reset_backends
from tests.redis_transport.servers import RedisProcess, free_port, start_redis

from .async_services import AsyncFrontServer
from .conftest import Telemetry
from .services import BACK, FRONT, BackServer
from .test_middleware import local

NAMES = ("rpc.client.request.size", "rpc.server.request.size", "rpc.client.response.size", "rpc.server.response.size")
PADDING = 3000  # bytes of body the request and the response carry


class ServerThread:
    """A server handling requests in a thread (it builds its transport there: ZeroMQ sockets stay in one thread)."""

    def __init__(self, server_class: type[Server], settings: dict[str, Any]) -> None:
        self.ready = threading.Event()
        self.stopping = False
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(server_class, settings), daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "the server did not start"
        if self.failure is not None:
            raise self.failure

    def _run(self, server_class: type[Server], settings: dict[str, Any]) -> None:
        try:
            server = server_class(settings)
            server.setup()
        except BaseException as exc:
            self.failure = exc
            self.ready.set()
            raise
        self.ready.set()
        try:
            while not self.stopping:
                server.handle_next_request()
        finally:
            server.transport.close()

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(10)


def sizes(telemetry: Telemetry, service: str, transport: str) -> dict[str, tuple[float, float]]:
    """Per histogram: (count, sum) over the points of ``service`` and ``transport``."""
    figures: dict[str, tuple[float, float]] = {}
    for name in NAMES:
        points = telemetry.points(name, **{"rpc.service": service, "soa.transport": transport})
        histograms = [point for point in points if isinstance(point, HistogramDataPoint)]
        assert len(histograms) == len(points), name
        figures[name] = (sum(point.count for point in histograms), sum(point.sum for point in histograms))
    return figures


def measured(telemetry: Telemetry, service: str, transport: str, call: Callable[[], Any]) -> dict[str, float]:
    """The size of the one request and one response ``call`` makes, as each histogram recorded it."""
    before = sizes(telemetry, service, transport)
    call()
    after = sizes(telemetry, service, transport)
    recorded = {}
    for name in NAMES:
        assert after[name][0] - before[name][0] == 1, (name, before, after)
        recorded[name] = after[name][1] - before[name][1]
    return recorded


def assert_both_sides_agree(recorded: dict[str, float]) -> None:
    assert recorded["rpc.client.request.size"] == recorded["rpc.server.request.size"]
    assert recorded["rpc.client.response.size"] == recorded["rpc.server.response.size"]
    assert recorded["rpc.client.request.size"] > PADDING
    assert recorded["rpc.client.response.size"] > PADDING  # hello echoes the name back


def call_sync(routing: dict[str, Any]) -> Callable[[], Any]:
    def call() -> Any:
        client = Client(routing)
        try:
            return client.call_action(BACK, "hello", {"name": "x" * PADDING}, timeout=10)
        finally:
            client.close()

    return call


def call_async(routing: dict[str, Any]) -> Callable[[], Any]:
    async def main() -> Any:
        async with AsyncClient(routing) as client:
            return await client.call_action(BACK, "hello", {"name": "x" * PADDING}, timeout=10)

    return lambda: asyncio.run(main())


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path_factory.mktemp("otel-sizes-redis"))
    yield server
    reset_backends()
    server.stop()


@pytest.mark.parametrize("call", [call_sync, call_async], ids=["sync", "async"])
def test_the_local_transport_reports_the_sizes_it_serializes(
    telemetry: Telemetry, call: Callable[[dict[str, Any]], Callable[[], Any]]
) -> None:
    recorded = measured(telemetry, BACK, "local", call({BACK: local(BackServer, ["otel"], ["otel"])}))
    assert_both_sides_agree(recorded)


def test_the_local_transport_reports_nothing_without_serializing(telemetry: Telemetry) -> None:
    routing = local(BackServer, ["otel"], ["otel"])
    routing["transport"]["kwargs"]["serialize"] = False
    before = sizes(telemetry, BACK, "local")
    call_sync({BACK: routing})()
    assert sizes(telemetry, BACK, "local") == before


@pytest.mark.redis
@pytest.mark.parametrize("call", [call_sync, call_async], ids=["sync", "async"])
def test_redis_reports_the_sizes_of_requests_and_responses(
    telemetry: Telemetry, redis: RedisProcess, call: Callable[[dict[str, Any]], Callable[[], Any]]
) -> None:
    transport = {"name": "redis", "kwargs": {"url": redis.url, "receive_timeout_in_seconds": 0.2}}
    server = ServerThread(BackServer, {"transport": transport, "middleware": ["otel"]})
    try:
        client_transport = {"name": "redis", "kwargs": {"url": redis.url}}
        recorded = measured(
            telemetry, BACK, "redis", call({BACK: {"transport": client_transport, "middleware": ["otel"]}})
        )
    finally:
        server.stop()
    assert_both_sides_agree(recorded)


@pytest.mark.parametrize("call", [call_sync, call_async], ids=["sync", "async"])
def test_zeromq_reports_the_sizes_of_requests_and_responses(
    telemetry: Telemetry, call: Callable[[dict[str, Any]], Callable[[], Any]]
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    server_transport = {
        "name": "zmq",
        "kwargs": {"endpoint": endpoint, "role": "standalone", "receive_timeout_in_seconds": 0.2},
    }
    server = ServerThread(BackServer, {"transport": server_transport, "middleware": ["otel"]})
    try:
        client_transport = {"name": "zmq", "kwargs": {"endpoint": endpoint}}
        recorded = measured(
            telemetry, BACK, "zmq", call({BACK: {"transport": client_transport, "middleware": ["otel"]}})
        )
    finally:
        server.stop()
    assert_both_sides_agree(recorded)


def test_size_attributes_are_low_cardinality(telemetry: Telemetry) -> None:
    call_sync({BACK: local(BackServer, ["otel"], ["otel"])})()
    for name in NAMES:
        keys = {tuple(sorted(point.attributes or {})) for point in telemetry.points(name)}
        assert keys == {("rpc.service", "rpc.system", "soa.transport")}, name


def test_an_async_worker_on_the_local_transport_reports_sizes_for_its_async_actions(telemetry: Telemetry) -> None:
    """The async local transport runs the front's async action; its chained call to the back is measured too."""
    back = local(BackServer, ["otel"], ["otel"])
    routing = {FRONT: local(AsyncFrontServer, ["otel"], ["otel"], client_routing={BACK: back})}
    before = sizes(telemetry, BACK, "local")

    async def main() -> Any:
        async with AsyncClient(routing) as client:
            return await client.call_action(FRONT, "relay", {}, timeout=10)

    asyncio.run(main())
    after = sizes(telemetry, BACK, "local")
    assert all(after[name][0] == before[name][0] + 1 for name in NAMES), (before, after)


def test_prometheus_names_sizes_in_bytes(tmp_path: Path) -> None:
    from soa_otel.prometheus import render

    text = render(
        [
            {
                "name": "rpc.server.request.size",
                "unit": "By",
                "type": "histogram",
                "description": "d",
                "series": [{"attributes": {}, "bounds": [128.0], "buckets": [1, 0], "sum": 100, "count": 1}],
            }
        ]
    )
    assert "rpc_server_request_size_bytes_count 1" in text
