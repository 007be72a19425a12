"""Loud but bounded: 10,000 garbage frames are each counted, but the log gets a short sample."""

from __future__ import annotations

import logging
import os

import pytest

from pysoa.client import Client
from pysoa.common.metrics import CountingMetricsRecorder
from tests.redis_transport.servers import RedisProcess

from .service import SERVICE, ReliabilityServer

pytestmark = pytest.mark.redis

FLOOD = 10_000


def test_a_worker_counts_every_garbage_request_but_logs_a_bounded_sample(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    server = ReliabilityServer(
        {"transport": {"name": "redis", "kwargs": {"url": redis_server.url, "receive_timeout_in_seconds": 0.2}}}
    )
    raw = redis_server.client()
    queue = f"pysoa:service.{SERVICE}"
    raw.rpush(queue, *[os.urandom(64) for _ in range(FLOOD)])
    with caplog.at_level(logging.WARNING):
        while raw.llen(queue):
            server.handle_next_request()
    assert server.stats["error.malformed_request"] == FLOOD
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert 1 <= len(warnings) <= 20, len(warnings)
    assert all(len(r.getMessage()) < 500 for r in warnings)

    # Still serving.
    client = Client({SERVICE: {"transport": {"name": "local", "kwargs": {"server_class": ReliabilityServer}}}})
    assert client.call_action(SERVICE, "echo", {"n": 1}).body["n"] == 1


def test_a_client_drops_garbage_on_its_reply_queue_with_a_bounded_sample_and_still_gets_its_response(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    from soa_redis.client import RedisClientTransport
    from soa_redis.server import RedisServerTransport

    metrics = CountingMetricsRecorder()
    client = RedisClientTransport(SERVICE, metrics, url=redis_server.url)
    server = RedisServerTransport(SERVICE, url=redis_server.url)
    client.send_request_message(1, {}, {"control": {}, "context": {}, "actions": []})
    request_id, meta, _ = server.receive_request_message()
    assert meta is not None
    reply_key = f"pysoa:{meta['reply_to']}"
    # Fewer than the queue's capacity (10,000), so the real response still fits behind them.
    flood = FLOOD // 2
    redis_server.client().rpush(reply_key, *[b"garbage" + os.urandom(32) for _ in range(flood)])
    server.send_response_message(request_id, meta, {"actions": [], "errors": []})
    with caplog.at_level(logging.WARNING):
        received = client.receive_response_message(30)
    assert received.request_id == 1
    assert metrics.counts["transport.redis.client.receive.invalid_message"] == flood
    assert 1 <= len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 20
