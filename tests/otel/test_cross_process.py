"""Traces across real worker processes: a two-hop call over Redis is one trace; ZeroMQ carries it the same way.

The test process is the first client; ``otel_front`` and ``otel_back`` run in worker
subprocesses (tests/otel/worker.py) whose spans are appended to files as JSON lines. The front
worker calls the back worker through ``request.client`` over the same Redis. The ZeroMQ test runs
one standalone ``otel_back`` worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.trace import SpanKind

from pysoa.client import Client
from pysoa.client.async_client import AsyncClient
from tests.redis_transport.servers import RedisProcess, start_redis

from .conftest import Telemetry
from .services import BACK, FRONT

pytestmark = [pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]


class Worker:
    def __init__(
        self, server_path: str, settings: dict[str, Any], span_file: Path, log: Path, metrics_dir: Path | None = None
    ) -> None:
        self.span_file = span_file
        self.log = log
        env = dict(os.environ)
        if metrics_dir is not None:
            env["SOA_TEST_METRICS_DIR"] = str(metrics_dir)
        with log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.otel.worker", server_path, json.dumps(settings), str(span_file)],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "READY":
            self.stop()
            raise RuntimeError(f"worker {server_path} did not start: {line!r}\n{log.read_text()}")

    def spans(self) -> list[dict[str, Any]]:
        if not self.span_file.exists():
            return []
        return [json.loads(line) for line in self.span_file.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path_factory.mktemp("otel-redis"))
    yield server
    from soa_redis._backend import reset_backends

    reset_backends()
    server.stop()


@pytest.fixture(scope="module")
def workers(redis: RedisProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Worker, Worker]]:
    directory = tmp_path_factory.mktemp("otel-workers")
    transport = {"name": "redis", "kwargs": {"url": redis.url, "receive_timeout_in_seconds": 1}}
    harakiri = {"timeout": 0, "shutdown_grace": 5}
    back_settings = {"transport": transport, "middleware": ["otel"], "harakiri": harakiri}
    front_settings = {
        **back_settings,
        "client_routing": {BACK: {"transport": transport, "middleware": ["otel"]}},
    }
    back = Worker("tests.otel.services:BackServer", back_settings, directory / "back.jsonl", directory / "back.log")
    try:
        front = Worker(
            "tests.otel.services:FrontServer", front_settings, directory / "front.jsonl", directory / "front.log"
        )
    except BaseException:
        back.stop()
        raise
    yield front, back
    front.stop()
    back.stop()


def wait_for_spans(worker: Worker, trace_id: str, count: int) -> list[dict[str, Any]]:
    """The worker's spans of ``trace_id``, once ``count`` of them are written (they are written as they end)."""
    deadline = time.monotonic() + 15
    while True:
        spans = [span for span in worker.spans() if span["trace_id"] == trace_id]
        if len(spans) >= count or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def one(spans: list[dict[str, Any]], name: str, kind: str) -> dict[str, Any]:
    found = [span for span in spans if span["name"] == name and span["kind"] == kind]
    assert len(found) == 1, [(span["name"], span["kind"]) for span in spans]
    return found[0]


def test_a_two_hop_call_over_redis_is_one_trace_with_correct_parents(
    telemetry: Telemetry, redis: RedisProcess, workers: tuple[Worker, Worker]
) -> None:
    front, back = workers
    transport = {"name": "redis", "kwargs": {"url": redis.url}}
    client = Client({FRONT: {"transport": transport, "middleware": ["otel"]}})
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        response = client.call_action(FRONT, "relay", {}, timeout=15)
    finally:
        context.detach(token)
        client.close()
    assert response.body["back"]["hello"] == "front"
    assert response.body["back"]["tenant"] == "acme"  # baggage crossed two Redis hops

    mine = telemetry.finished()
    client_job = next(span for span in mine if span.name == f"{FRONT}/job" and span.kind == SpanKind.CLIENT)
    assert client_job.context is not None
    trace_id = format(client_job.context.trace_id, "032x")
    client_job_id = format(client_job.context.span_id, "016x")
    assert response.body["back"]["trace_id"] == trace_id

    front_spans = wait_for_spans(front, trace_id, 4)  # server job + action, client job + action to the back
    back_spans = wait_for_spans(back, trace_id, 2)
    assert len(front_spans) == 4, front_spans
    assert len(back_spans) == 2, back_spans
    front_job = one(front_spans, f"{FRONT}/job", "SERVER")
    front_action = one(front_spans, f"{FRONT}/relay", "SERVER")
    chained_job = one(front_spans, f"{BACK}/job", "CLIENT")
    chained_action = one(front_spans, f"{BACK}/hello", "CLIENT")
    back_job = one(back_spans, f"{BACK}/job", "SERVER")
    back_action = one(back_spans, f"{BACK}/hello", "SERVER")

    assert front_job["parent_id"] == client_job_id
    assert front_action["parent_id"] == front_job["span_id"]
    assert chained_job["parent_id"] == front_action["span_id"]
    assert chained_action["parent_id"] == chained_job["span_id"]
    assert back_job["parent_id"] == chained_job["span_id"]
    assert back_action["parent_id"] == back_job["span_id"]
    for span in (front_job, back_job, chained_job):
        assert span["attributes"]["soa.transport"] == "redis"
        assert span["attributes"]["rpc.system"] == "pysoa"
    assert back_action["attributes"]["rpc.method"] == "hello"
    assert {front_job["service"], back_job["service"]} == {FRONT, BACK}


def test_an_action_error_two_hops_away_is_recorded_with_its_code_on_every_span_that_saw_it(
    telemetry: Telemetry, redis: RedisProcess, workers: tuple[Worker, Worker]
) -> None:
    front, back = workers
    client = Client({FRONT: {"transport": {"name": "redis", "kwargs": {"url": redis.url}}, "middleware": ["otel"]}})
    try:
        response = client.call_action(FRONT, "relay", {"action": "fail"}, timeout=15)
    finally:
        client.close()
    assert response.body["back_errors"] == ["NOPE"]
    client_job = next(span for span in telemetry.finished() if span.kind == SpanKind.CLIENT)
    assert client_job.context is not None
    trace_id = format(client_job.context.trace_id, "032x")
    back_spans = wait_for_spans(back, trace_id, 2)
    front_spans = wait_for_spans(front, trace_id, 4)
    for span in (one(back_spans, f"{BACK}/fail", "SERVER"), one(front_spans, f"{BACK}/fail", "CLIENT")):
        assert span["status"] == "ERROR"
        assert span["attributes"]["error.type"] == "NOPE"
    assert one(front_spans, f"{FRONT}/relay", "SERVER")["status"] == "UNSET"  # the relay itself succeeded


def test_the_trace_continues_over_zeromq_too(telemetry: Telemetry, tmp_path: Path) -> None:
    """The headers ride in the job, not in a transport's envelope: a ZeroMQ worker continues the trace the same way."""
    from tests.redis_transport.servers import free_port

    endpoint = f"tcp://127.0.0.1:{free_port()}"
    settings = {
        "transport": {"name": "zmq", "kwargs": {"endpoint": endpoint, "role": "standalone"}},
        "middleware": ["otel"],
        "harakiri": {"timeout": 0, "shutdown_grace": 5},
    }
    worker = Worker("tests.otel.services:BackServer", settings, tmp_path / "back.jsonl", tmp_path / "back.log")
    try:
        client = Client(
            {BACK: {"transport": {"name": "zmq", "kwargs": {"endpoint": endpoint}}, "middleware": ["otel"]}}
        )
        token = context.attach(baggage.set_baggage("tenant", "zeromq"))
        try:
            response = client.call_action(BACK, "hello", timeout=15)
        finally:
            context.detach(token)
            client.close()
        client_job = next(span for span in telemetry.finished() if span.name == f"{BACK}/job")
        assert client_job.context is not None
        trace_id = format(client_job.context.trace_id, "032x")
        spans = wait_for_spans(worker, trace_id, 2)
    finally:
        worker.stop()
    assert response.body["tenant"] == "zeromq"
    server_job = one(spans, f"{BACK}/job", "SERVER")
    assert server_job["parent_id"] == format(client_job.context.span_id, "016x")
    assert server_job["attributes"]["soa.transport"] == "zmq"
    assert one(spans, f"{BACK}/hello", "SERVER")["parent_id"] == server_job["span_id"]


# --- asyncio: an AsyncClient, and a front worker running async actions two at a time ------------------


@dataclass
class AsyncWorkers:
    front: Worker
    back: Worker
    metrics: Path
    redis: RedisProcess


@pytest.fixture(scope="module")
def async_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsyncWorkers]:
    """Their own Redis: the sync workers of this module serve the same service names."""
    directory = tmp_path_factory.mktemp("otel-async-workers")
    redis = start_redis(directory / "redis")
    transport = {"name": "redis", "kwargs": {"url": redis.url, "receive_timeout_in_seconds": 1}}
    harakiri = {"timeout": 0, "shutdown_grace": 5}
    back_settings = {"transport": transport, "middleware": ["otel"], "harakiri": harakiri}
    front_settings = {
        **back_settings,
        "async_jobs_per_worker": 2,
        "client_routing": {BACK: {"transport": transport, "middleware": ["otel"]}},
    }
    back: Worker | None = None
    front: Worker | None = None
    try:
        back = Worker("tests.otel.services:BackServer", back_settings, directory / "back.jsonl", directory / "back.log")
        front = Worker(
            "tests.otel.async_services:AsyncFrontServer",
            front_settings,
            directory / "front.jsonl",
            directory / "front.log",
            metrics_dir=directory / "metrics",
        )
        yield AsyncWorkers(front, back, directory / "metrics", redis)
    finally:
        for worker in (front, back):
            if worker is not None:
                worker.stop()
        redis.stop()


def async_routing(workers: AsyncWorkers) -> dict[str, Any]:
    return {FRONT: {"transport": {"name": "redis", "kwargs": {"url": workers.redis.url}}, "middleware": ["otel"]}}


def test_a_two_hop_call_through_an_async_action_over_redis_is_one_trace(
    telemetry: Telemetry, async_workers: AsyncWorkers
) -> None:
    front, back = async_workers.front, async_workers.back

    async def main() -> Any:
        token = context.attach(baggage.set_baggage("tenant", "async"))
        try:
            async with AsyncClient(async_routing(async_workers)) as client:
                return await client.call_action(FRONT, "relay", {}, timeout=15)
        finally:
            context.detach(token)

    response = asyncio.run(main())
    assert response.body["back"]["tenant"] == "async"  # baggage crossed both hops

    client_job = next(span for span in telemetry.finished() if span.name == f"{FRONT}/job")
    assert client_job.context is not None
    assert client_job.kind == SpanKind.CLIENT
    trace_id = format(client_job.context.trace_id, "032x")
    front_spans = wait_for_spans(front, trace_id, 4)
    back_spans = wait_for_spans(back, trace_id, 2)
    front_job = one(front_spans, f"{FRONT}/job", "SERVER")
    front_action = one(front_spans, f"{FRONT}/relay", "SERVER")
    chained_job = one(front_spans, f"{BACK}/job", "CLIENT")
    back_job = one(back_spans, f"{BACK}/job", "SERVER")
    assert front_job["parent_id"] == format(client_job.context.span_id, "016x")
    assert front_action["parent_id"] == front_job["span_id"]
    assert chained_job["parent_id"] == front_action["span_id"]  # await request.client.call_action(...)
    assert one(front_spans, f"{BACK}/hello", "CLIENT")["parent_id"] == chained_job["span_id"]
    assert back_job["parent_id"] == chained_job["span_id"]
    assert one(back_spans, f"{BACK}/hello", "SERVER")["parent_id"] == back_job["span_id"]
    assert response.body["back"]["trace_id"] == trace_id


def test_concurrent_async_jobs_in_one_worker_each_continue_their_own_trace(
    telemetry: Telemetry, async_workers: AsyncWorkers
) -> None:
    front, back = async_workers.front, async_workers.back
    tracer = trace.get_tracer("tests")
    group = uuid.uuid4().hex

    async def call(client: AsyncClient, caller: str) -> Any:
        with tracer.start_as_current_span(caller):
            return await client.call_action(FRONT, "rendezvous", {"group": group, "parties": 2}, timeout=15)

    async def main() -> list[Any]:
        async with AsyncClient(async_routing(async_workers)) as client:
            return list(await asyncio.gather(call(client, "a"), call(client, "b")))

    responses = asyncio.run(main())  # both answered: the worker had both jobs inside the action at once

    client_jobs = [span for span in telemetry.finished() if span.name == f"{FRONT}/job"]
    assert len(client_jobs) == 2
    assert len({span.context.trace_id for span in client_jobs if span.context}) == 2
    for client_job in client_jobs:
        assert client_job.context is not None
        trace_id = format(client_job.context.trace_id, "032x")
        front_spans = wait_for_spans(front, trace_id, 4)
        back_spans = wait_for_spans(back, trace_id, 2)
        front_job = one(front_spans, f"{FRONT}/job", "SERVER")
        front_action = one(front_spans, f"{FRONT}/rendezvous", "SERVER")
        assert front_job["parent_id"] == format(client_job.context.span_id, "016x")
        assert front_action["parent_id"] == front_job["span_id"]
        chained_job = one(front_spans, f"{BACK}/job", "CLIENT")
        assert chained_job["parent_id"] == front_action["span_id"]
        assert one(back_spans, f"{BACK}/job", "SERVER")["parent_id"] == chained_job["span_id"]
        [body] = [response.body for response in responses if response.body["trace_id"] == trace_id]
        assert body["span_id"] == front_action["span_id"]
        assert body["back_trace_id"] == trace_id


def test_an_async_worker_records_message_sizes_and_queue_wait(
    telemetry: Telemetry, async_workers: AsyncWorkers
) -> None:
    from soa_otel.prometheus import collect, render

    from .test_prometheus import sample

    metrics_dir = async_workers.metrics

    async def main() -> None:
        async with AsyncClient(async_routing(async_workers)) as client:
            await client.call_action(FRONT, "relay", {}, timeout=15)

    def figure(name: str) -> float:
        return sample(render(collect(metrics_dir)), name, rpc_service=FRONT, soa_transport="redis")

    asyncio.run(main())  # the worker has answered at least this call
    deadline = time.monotonic() + 15
    names = (
        "rpc_server_request_size_bytes_count",
        "rpc_server_response_size_bytes_count",
        "soa_server_queue_wait_seconds_count",
    )
    while not all(figure(name) >= 1 for name in names) and time.monotonic() < deadline:
        time.sleep(0.1)
    for name in names:
        assert figure(name) >= 1, name
    assert figure("rpc_server_request_size_bytes_sum") > 0
