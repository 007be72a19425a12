"""What the Redis client expects back: expired responses are dropped, expectations expire when they should,
and chunks that arrive out of order never make a response."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pysoa.common.metrics import CountingMetricsRecorder
from pysoa.errors import MessageReceiveTimeout
from soa_redis.client import RedisClientTransport, _ThreadState
from soa_redis.server import RedisServerTransport

from .helpers import job, packed, response, transports
from .servers import RedisProcess

pytestmark = pytest.mark.redis


def test_an_expired_response_is_dropped_and_the_next_one_returned(redis_server: RedisProcess) -> None:
    metrics = CountingMetricsRecorder()
    client = RedisClientTransport("svc", metrics, url=redis_server.url)
    client.send_request_message(1, {}, job())
    client.send_request_message(2, {}, job())
    reply_key = "pysoa:" + client._state().reply_to
    raw = redis_server.client()
    # A PySOA-style response (no Redis clock pair) whose expiry has passed, then a live one.
    raw.rpush(reply_key, packed({"request_id": 1, "meta": {"__expiry__": time.time() - 1}, "body": response(n=1)}))
    raw.rpush(reply_key, packed({"request_id": 2, "meta": {"__expiry__": time.time() + 60}, "body": response(n=2)}))
    received = client.receive_response_message(2)
    assert received.request_id == 2
    assert metrics.counts["transport.redis.client.receive.expired"] == 1
    # The expired one is no longer expected either: nothing is outstanding, so no wait.
    assert client.requests_outstanding == 0
    assert client.receive_response_message(2).request_id is None


def test_only_expectations_whose_time_has_passed_are_pruned() -> None:
    state = _ThreadState("reply", "pysoa:reply")
    state.expect("early", 100.0)
    state.expect("late", 200.0)
    state.prune(50.0)
    assert set(state.outstanding) == {"early", "late"}
    state.prune(150.0)
    assert set(state.outstanding) == {"late"}
    assert state.earliest_expiry == 200.0
    state.prune(200.0)  # due, not yet past
    assert set(state.outstanding) == {"late"}
    state.prune(200.5)
    assert state.outstanding == {}


def test_a_request_sent_is_expected_until_its_expiry_and_grace(redis_server: RedisProcess) -> None:
    client = RedisClientTransport("svc", url=redis_server.url)
    client.send_request_message(1, {}, job(), 30)
    assert client.requests_outstanding == 1
    started = time.monotonic()
    # A wait for it really waits (an inverted prune would drop it and return at once).
    with pytest.raises(Exception, match="nothing arrived"):
        client.receive_response_message(0.3)
    assert time.monotonic() - started >= 0.3


def test_chunks_out_of_order_on_the_reply_queue_never_make_a_response(redis_server: RedisProcess) -> None:
    metrics = CountingMetricsRecorder()
    client = RedisClientTransport("svc", metrics, url=redis_server.url)
    server = RedisServerTransport(
        "svc", url=redis_server.url, receive_timeout_in_seconds=2, chunk_messages_larger_than_bytes=102_400
    )
    client._first_wait_behind_push = False  # the reply stays on Redis, to be inspected there
    client.send_request_message(1, {}, job())
    request_id, meta, _ = server.receive_request_message()
    assert meta is not None
    # Distinct content per chunk, so a reordered reassembly could not pass for the original.
    server.send_response_message(request_id, meta, response(blob="".join(chr(65 + i % 26) * 1000 for i in range(250))))
    reply_key = "pysoa:" + meta["reply_to"]
    raw = redis_server.client()
    frames = raw.lrange(reply_key, 0, -1)
    assert len(frames) == 3
    raw.delete(reply_key)
    raw.rpush(reply_key, frames[0], frames[2], frames[1])
    with pytest.raises(MessageReceiveTimeout):
        client.receive_response_message(0.5)
    # Both broken pieces were dropped as unreadable (the lone chunk 2 cannot start a message).
    assert metrics.counts["transport.redis.client.receive.invalid_message"] == 2
    assert raw.llen(reply_key) == 0


def test_chunks_in_order_make_the_exact_response_through_redis(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server, chunk_messages_larger_than_bytes=102_400)
    big = response(blob="".join(chr(65 + i % 26) * 1000 for i in range(250)))
    for number in (1, 2):
        client.send_request_message(number, {}, job())
    for _ in (1, 2):
        request_id, meta, _ = server.receive_request_message()
        assert meta is not None
        server.send_response_message(request_id, meta, big)
    assert [client.receive_response_message(2).body == big for _ in (1, 2)] == [True, True]


def _first_chunk_only(redis_server: RedisProcess) -> tuple[RedisClientTransport, str, list[bytes], dict[str, object]]:
    """A client whose reply queue holds only the first of a response's three chunks: ``(client, reply key, all
    frames, the response body)``."""
    client, server = transports(redis_server, chunk_messages_larger_than_bytes=102_400)
    client._first_wait_behind_push = False  # the reply stays on Redis for the test to take apart
    big = response(blob="".join(chr(65 + i % 26) * 1000 for i in range(250)))
    client.send_request_message(1, {}, job())
    request_id, meta, _ = server.receive_request_message()
    assert meta is not None
    server.send_response_message(request_id, meta, big)
    reply_key = "pysoa:" + meta["reply_to"]
    raw = redis_server.client()
    frames = [frame for frame in raw.lrange(reply_key, 0, -1) if isinstance(frame, bytes)]
    assert len(frames) == 3
    raw.delete(reply_key)
    raw.rpush(reply_key, frames[0])
    return client, reply_key, frames, big


def test_an_incomplete_chunked_response_times_out_at_the_deadline_not_before(redis_server: RedisProcess) -> None:
    client, _, _, _ = _first_chunk_only(redis_server)
    started = time.monotonic()
    with pytest.raises(MessageReceiveTimeout, match=r"incomplete at the deadline.* after \d+\.\d{3} s\)") as info:
        client.receive_response_message(0.5)
    took = time.monotonic() - started
    # Never early (the last pop used to stop a Redis tick, 0.1 s, before the deadline); generous when late.
    assert 0.5 <= took <= 0.5 + 0.25, (took, info.value)


@pytest.mark.slow
def test_the_rest_of_a_chunked_response_is_waited_for_past_one_blocking_slice(redis_server: RedisProcess) -> None:
    client, reply_key, frames, big = _first_chunk_only(redis_server)
    # The other chunks come after the first BLPOP slice (5 s) has ended empty, well before the deadline.
    late = threading.Timer(5.5, lambda: redis_server.client().rpush(reply_key, *frames[1:]))
    late.start()
    try:
        received = client.receive_response_message(8)
    finally:
        late.cancel()
    assert received.body == big


def test_a_small_response_is_kept_decoded_until_the_next_request_is_written(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server)
    state = client._state()

    def round_trip(number: int, **body: Any) -> Any:
        client.send_request_message(number, {}, job(n=number))
        # Once a request is written, the response before it is no longer held.
        assert state.spent is None
        request_id, meta, _body = server.receive_request_message()
        assert meta is not None
        server.send_response_message(request_id, meta, response(n=number, **body))
        return client.receive_response_message(5)

    received = round_trip(1)
    # Freed while the next request's reply is on its way rather than as the caller lets go of it.
    assert state.spent is not None
    assert state.spent.body is received.body
    round_trip(2, data="x" * 70_000)
    assert state.spent is None  # a bigger one is not held back
    assert round_trip(3).body == response(n=3)
