"""Client and server transports against a real private redis-server, checked on the wire with a raw client."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from pysoa.common.metrics import CountingMetricsRecorder
from pysoa.common.transport.base import ReceivedMessage
from pysoa.errors import (
    EncodeError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
    MessageTooLarge,
    TransportConnectionError,
)
from pysoa.plugins import get_plugin_manager
from soa_redis import RedisSendConnectionError
from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

from .helpers import REPLY_TO, V3_MSGPACK, as_bytes, decode_raw, job, packed, raw_request, response, transports
from .servers import RedisProcess, free_port, start_redis

pytestmark = pytest.mark.redis

NO_MESSAGE = ReceivedMessage(None, None, None)


def test_the_plugin_is_registered_under_redis() -> None:
    manager = get_plugin_manager()
    assert manager.client_transport("redis") is RedisClientTransport
    assert manager.server_transport("redis") is RedisServerTransport


def test_request_on_the_wire(redis_server: RedisProcess) -> None:
    client, _server = transports(redis_server, "echo")
    before = time.time()
    client.send_request_message(42, {"client_version": [0, 70, 0]}, job(x=1), 7)

    raw = redis_server.client()
    assert raw.keys("*") == [b"pysoa:service.echo"]
    assert 16 <= raw.ttl("pysoa:service.echo") <= 17  # timeout + 10, as PySOA
    (frame,) = raw.lrange("pysoa:service.echo", 0, -1)
    head, envelope = decode_raw(frame)
    assert head == V3_MSGPACK
    assert list(envelope) == ["request_id", "meta", "body"]
    assert envelope["request_id"] == 42
    assert envelope["body"] == job(x=1)
    meta = envelope["meta"]
    assert meta["client_version"] == [0, 70, 0]
    match = REPLY_TO.fullmatch(meta["reply_to"])
    assert match is not None
    assert (match["service"], match["client"]) == ("echo", client.client_id)
    assert int(match["thread"], 16) == threading.get_ident()
    assert before + 7 <= meta["__expiry__"] <= time.time() + 7


def test_round_trip(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server, "echo")
    client._first_wait_behind_push = False  # the reply stays on Redis, to be inspected there
    client.send_request_message(42, {"client_version": [0, 70, 0], "custom": "kept"}, job(x=1))
    request_id, meta, body = server.receive_request_message()
    assert (request_id, body) == (42, job(x=1))
    assert meta is not None
    assert meta["custom"] == "kept"

    raw = redis_server.client()
    reply_key = "pysoa:" + meta["reply_to"]
    server.send_response_message(request_id, meta, response(x=1))
    assert raw.llen("pysoa:service.echo") == 0
    assert 59 <= raw.ttl(reply_key) <= 60
    head, envelope = decode_raw(raw.lindex(reply_key, 0))
    assert head == V3_MSGPACK
    # The request meta comes back (with a fresh expiry), without the transport's private keys.
    assert envelope["meta"]["custom"] == "kept"
    assert envelope["meta"]["reply_to"] == meta["reply_to"]
    assert not any(key in envelope["meta"] for key in ("__protocol_version__", "__content_type__"))

    got = client.receive_response_message(2)
    assert (got.request_id, got.body) == (42, response(x=1))
    assert client.receive_response_message(2) == NO_MESSAGE


def test_no_timeout_means_the_default_expiry(redis_server: RedisProcess) -> None:
    client, _server = transports(redis_server)
    client.send_request_message(1, {}, job())
    raw = redis_server.client()
    assert 59 <= raw.ttl("pysoa:service.svc") <= 60
    _head, envelope = decode_raw(raw.lindex("pysoa:service.svc", 0))
    assert envelope["meta"]["__expiry__"] == pytest.approx(time.time() + 60, abs=2)


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("serializer", ["msgpack", "json"])
def test_replies_use_the_requests_version_and_content_type(
    redis_server: RedisProcess, version: int, serializer: str
) -> None:
    # A v1 frame carries no content type: the server reads it with its default serializer (as PySOA).
    # Otherwise the header decides, whatever the server's default.
    client, server = transports(
        redis_server,
        client={"protocol_version": version, "default_serializer_config": serializer},
        default_serializer_config=serializer if version == 1 else "msgpack",
    )
    client._first_wait_behind_push = False  # the reply stays on Redis, to be inspected there
    client.send_request_message(5, {}, job(text="héllo"))
    raw = redis_server.client()
    prefix = {1: b"", 2: b"content-type:application/%s;", 3: b"pysoa-redis/3//content-type:application/%s;"}[version]
    if version > 1:
        prefix = prefix % serializer.encode()
    assert as_bytes(raw.lindex("pysoa:service.svc", 0)).startswith(prefix + (b"{" if serializer == "json" else b"\x83"))

    request_id, meta, body = server.receive_request_message()
    assert body == job(text="héllo")
    assert meta is not None
    server.send_response_message(request_id, meta, response(text="é"))
    reply = raw.lindex("pysoa:" + meta["reply_to"], 0)
    assert as_bytes(reply).startswith(prefix + (b"{" if serializer == "json" else b"\x83"))
    assert client.receive_response_message(2).body == response(text="é")


def test_a_fallback_error_reply_keeps_the_clients_framing(redis_server: RedisProcess) -> None:
    # PySOA sent the RESPONSE_TOO_LARGE reply in v3/msgpack even to a v2/JSON client.
    client, server = transports(
        redis_server,
        client={"protocol_version": 2, "default_serializer_config": "json"},
        maximum_message_size_in_bytes=1000,
    )
    client._first_wait_behind_push = False  # the reply stays on Redis, to be inspected there
    client.send_request_message(5, {}, job())
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    with pytest.raises(MessageTooLarge):
        server.send_response_message(request_id, meta, response(blob="x" * 5000))
    server.send_response_message(request_id, meta, {"errors": [{"code": "RESPONSE_TOO_LARGE"}], "actions": []})
    reply = redis_server.client().lindex("pysoa:" + meta["reply_to"], 0)
    assert as_bytes(reply).startswith(b'content-type:application/json;{"request_id":5')
    assert client.receive_response_message(2).body == {"errors": [{"code": "RESPONSE_TOO_LARGE"}], "actions": []}


def test_large_responses_are_chunked_for_v3_clients(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server, chunk_messages_larger_than_bytes=102_400)
    client._first_wait_behind_push = False  # the reply stays on Redis, to be inspected there
    client.send_request_message(9, {}, job())
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    big = response(blob="x" * 250_000)
    server.send_response_message(request_id, meta, big)

    frames = redis_server.client().lrange("pysoa:" + meta["reply_to"], 0, -1)
    assert [frame[:73] for frame in frames] == [
        b"pysoa-redis/3//content-type:application/msgpack;chunk-count:3;chunk-id:%d;" % i for i in (1, 2, 3)
    ]
    assert client.receive_response_message(2).body == big


@pytest.mark.parametrize("version", [1, 2])
def test_a_v1_or_v2_client_that_needs_chunks_gets_response_too_large(redis_server: RedisProcess, version: int) -> None:
    client, server = transports(
        redis_server, client={"protocol_version": version}, chunk_messages_larger_than_bytes=102_400
    )
    client.send_request_message(9, {}, job())
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    with pytest.raises(MessageTooLarge, match="cannot carry chunks"):
        server.send_response_message(request_id, meta, response(blob="x" * 150_000))
    assert redis_server.client().exists("pysoa:" + meta["reply_to"]) == 0


def test_chunked_responses_to_parallel_requests_on_one_reply_queue(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server, chunk_messages_larger_than_bytes=102_400)
    for request_id in (1, 2, 3, 4):
        client.send_request_message(request_id, {}, job(n=request_id))
    received = [server.receive_request_message() for _ in range(4)]
    bodies = {1: response(blob="a" * 300_000), 2: response(n=2), 3: response(blob="c" * 120_000), 4: response(n=4)}
    for request_id, meta, _body in reversed(received):
        assert meta is not None
        server.send_response_message(request_id, meta, bodies[request_id])
    got = {}
    for _ in range(4):
        message = client.receive_response_message(2)
        got[message.request_id] = message.body
    assert got == bodies
    assert client.receive_response_message(2) == NO_MESSAGE


def test_an_oversize_request_fails_before_any_redis_io() -> None:
    # Nothing listens on this port: any Redis I/O would raise a connection error instead.
    client = RedisClientTransport("svc", url=f"redis://127.0.0.1:{free_port()}/0", maximum_message_size_in_bytes=1000)
    with pytest.raises(MessageTooLarge) as info:
        client.send_request_message(1, {}, job(blob="x" * 2000))
    assert info.value.message_size_in_bytes > 2000
    with pytest.raises(EncodeError):
        client.send_request_message(2, {}, job(value=object()))
    assert client.requests_outstanding == 0


def test_a_full_queue_fails_within_the_calls_deadline(redis_server: RedisProcess) -> None:
    client, _server = transports(redis_server, client={"queue_capacity": 2, "queue_full_retries": 10})
    client.send_request_message(1, {}, job())
    client.send_request_message(2, {}, job())
    started = time.monotonic()
    # Refused as full; on a loaded machine the last retry's round trip may instead be cut by the deadline.
    with pytest.raises((MessageSendError, MessageSendTimeout), match=r"was full after|Timed out sending"):
        client.send_request_message(3, {}, job(), 1.0)
    # PySOA's ten retries would block for minutes; this send gives up by its 1 s deadline.
    assert time.monotonic() - started < 1.5
    assert redis_server.client().llen("pysoa:service.svc") == 2
    assert client.requests_outstanding == 2


def test_a_full_queue_without_retries_fails_at_once(redis_server: RedisProcess) -> None:
    client, _server = transports(redis_server, client={"queue_capacity": 1, "queue_full_retries": 0})
    client.send_request_message(1, {}, job())
    with pytest.raises(MessageSendError, match="full after 0 retries"):
        client.send_request_message(2, {}, job(), 30)


def test_a_queue_that_drains_during_the_backoff_takes_the_message(redis_server: RedisProcess) -> None:
    metrics = CountingMetricsRecorder()
    client = RedisClientTransport("svc", metrics, url=redis_server.url, queue_capacity=1)
    client.send_request_message(1, {}, job())
    raw = redis_server.client()
    timer = threading.Timer(0.3, raw.lpop, ["pysoa:service.svc"])
    timer.start()
    client.send_request_message(2, {}, job(), 5)
    timer.join()
    _head, envelope = decode_raw(raw.lindex("pysoa:service.svc", 0))
    assert envelope["request_id"] == 2
    assert metrics.counts["transport.redis.client.send.queue_full_retry"] >= 1


def test_expired_requests_are_dropped(redis_server: RedisProcess) -> None:
    metrics = CountingMetricsRecorder()
    client = RedisClientTransport("svc", url=redis_server.url)
    server = RedisServerTransport("svc", metrics, url=redis_server.url, receive_timeout_in_seconds=0.5)
    client.send_request_message(1, {}, job(), 0.05)
    client.send_request_message(2, {}, job(), 30)
    time.sleep(0.1)
    request_id, _meta, _body = server.receive_request_message()
    assert request_id == 2
    assert metrics.counts["transport.redis.server.receive.expired"] == 1


def test_expiry_from_a_pysoa_peer_is_honoured(redis_server: RedisProcess) -> None:
    _client, server = transports(redis_server, receive_timeout_in_seconds=0.5)
    raw = redis_server.client()
    reply_to = "service.svc.0123456789abcdef0123456789abcdef!00007f0000aa"
    raw.rpush("pysoa:service.svc", packed(raw_request(1, reply_to, __expiry__=time.time() - 1)))
    raw.rpush("pysoa:service.svc", packed(raw_request(2, reply_to, __expiry__=time.time() + 60)))
    assert server.receive_request_message().request_id == 2


def test_expiry_between_soa_core_peers_tolerates_clock_skew(redis_server: RedisProcess) -> None:
    _client, server = transports(redis_server, receive_timeout_in_seconds=0.5)
    raw = redis_server.client()
    seconds, micros = raw.time()
    redis_now = seconds + micros / 1e6
    reply_to = "service.svc.0123456789abcdef0123456789abcdef!00007f0000aa"
    # A sender whose clock is 100 s behind stamps an __expiry__ already past on our clock, but
    # its Redis-clock expiry says the message has 30 s left: it must be delivered...
    behind = time.time() - 100 + 30
    raw.rpush(
        "pysoa:service.svc",
        packed(raw_request(1, reply_to, __expiry__=behind, __expiry_redis__=[behind, redis_now + 30])),
    )
    # ...while one from a sender 100 s ahead, expired 1 s ago on the Redis clock, is dropped.
    ahead = time.time() + 100 - 1
    raw.rpush(
        "pysoa:service.svc", packed(raw_request(2, reply_to, __expiry__=ahead, __expiry_redis__=[ahead, redis_now - 1]))
    )
    assert server.receive_request_message().request_id == 1
    with pytest.raises(MessageReceiveTimeout):
        server.receive_request_message()


def test_a_receive_waits_no_longer_than_asked(redis_server: RedisProcess) -> None:
    client, _server = transports(redis_server)
    client.send_request_message(1, {}, job())
    started = time.monotonic()
    with pytest.raises(MessageReceiveTimeout):
        client.receive_response_message(0.3)
    # Never early; late by well under Redis's 100 ms BLPOP timeout granularity (plus noise).
    assert 0.3 <= time.monotonic() - started < 0.3 + 0.25


def test_a_response_arriving_just_before_the_deadline_is_received(redis_server: RedisProcess) -> None:
    # Inside the last Redis tick before the deadline, where a BLPOP's own timeout would be imprecise.
    client, server = transports(redis_server)
    client.send_request_message(1, {}, job())
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    started = time.monotonic()
    threading.Timer(0.45, server.send_response_message, [request_id, meta, response()]).start()
    assert client.receive_response_message(0.5).request_id == 1
    assert 0.45 <= time.monotonic() - started < 0.5 + 0.05


def test_blocking_reads_outlast_a_short_socket_timeout(redis_server: RedisProcess) -> None:
    # A BLPOP longer than socket_timeout must not turn into a socket error (and a lost message).
    client, server = transports(redis_server, client={"connection_kwargs": {"socket_timeout": 0.2}})
    client.send_request_message(1, {}, job())
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    threading.Timer(0.6, server.send_response_message, [request_id, meta, response()]).start()
    assert client.receive_response_message(2).request_id == 1


def test_nothing_outstanding_returns_at_once(redis_server: RedisProcess) -> None:
    client, _server = transports(redis_server)
    started = time.monotonic()
    assert client.receive_response_message(5) == NO_MESSAGE
    assert time.monotonic() - started < 0.5


def test_a_suppressed_response_is_not_waited_for(redis_server: RedisProcess) -> None:
    client, _server = transports(redis_server)
    body = job()
    body["control"]["suppress_response"] = True
    client.send_request_message(1, {}, body)
    assert client.requests_outstanding == 0
    assert client.receive_response_message(5) == NO_MESSAGE


def test_each_thread_has_its_own_reply_queue(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server)
    results: dict[int, Any] = {}

    def call(number: int) -> None:
        client.send_request_message(number, {}, job(n=number))
        results[number] = client.receive_response_message(5).body

    threads = [threading.Thread(target=call, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    reply_queues = set()
    for _ in threads:
        request_id, meta, body = server.receive_request_message()
        assert meta is not None
        assert body is not None
        reply_queues.add(meta["reply_to"])
        server.send_response_message(request_id, meta, response(n=body["actions"][0]["body"]["n"]))
    for thread in threads:
        thread.join(5)
    assert len(reply_queues) == 2
    assert results == {1: response(n=1), 2: response(n=2)}


def test_a_late_reply_does_not_block_the_next_one(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server)
    client.send_request_message(1, {}, job())
    with pytest.raises(MessageReceiveTimeout):
        client.receive_response_message(0.2)
    client.send_request_message(2, {}, job())
    for _ in range(2):
        request_id, meta, _body = server.receive_request_message()
        assert meta is not None
        server.send_response_message(request_id, meta, response(id=request_id))
    # Both arrive, in order; the client (which gave up on 1) drops the first by its id.
    assert [client.receive_response_message(1).request_id for _ in range(2)] == [1, 2]


def test_unreachable_redis_is_a_transient_connection_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    client = RedisClientTransport("svc", url=url)
    with pytest.raises(RedisSendConnectionError) as info:
        client.send_request_message(1, {}, job())
    assert isinstance(info.value, MessageSendError)
    assert isinstance(info.value, TransportConnectionError)
    server = RedisServerTransport("svc", url=url, receive_timeout_in_seconds=1)
    with pytest.raises(MessageReceiveError):
        server.receive_request_message()


def test_retry_settings_are_ignored_with_a_warning(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="soa_redis"):
        client = RedisClientTransport("svc", url=redis_server.url, connection_kwargs={"retry_on_timeout": True})
    assert "Ignoring retry_on_timeout" in caplog.text
    client.send_request_message(1, {}, job())


def test_oversized_messages_are_logged(redis_server: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:
    client = RedisClientTransport("svc", url=redis_server.url, log_messages_larger_than_bytes=500)
    with caplog.at_level(logging.WARNING, logger="pysoa.transport.oversized_message"):
        client.send_request_message(1, {}, job(blob="x" * 100))
        assert caplog.records == []
        client.send_request_message(2, {}, job(blob="x" * 1000))
    assert len(caplog.records) == 1
    assert "svc" in caplog.text


@pytest.mark.parametrize(("policy", "warned"), [("allkeys-lru", True), ("volatile-ttl", True), ("noeviction", False)])
def test_a_server_warns_when_redis_can_evict_queues(
    tmp_path: Any, caplog: pytest.LogCaptureFixture, policy: str, warned: bool
) -> None:
    redis = start_redis(tmp_path, "--maxmemory", "100mb", "--maxmemory-policy", policy)
    try:
        server = RedisServerTransport("svc", url=redis.url, receive_timeout_in_seconds=0.1)
        with caplog.at_level(logging.WARNING, logger="soa_redis"), pytest.raises(MessageReceiveTimeout):
            server.receive_request_message()
    finally:
        redis.stop()
    assert (f"maxmemory-policy {policy!r}" in caplog.text) is warned


def test_a_unix_socket_url(tmp_path: Any) -> None:
    socket_path = tmp_path / "redis.sock"
    redis = start_redis(tmp_path / "unix", "--unixsocket", str(socket_path), "--unixsocketperm", "700")
    try:
        url = f"unix://{socket_path}?db=2"
        client = RedisClientTransport("svc", url=url)
        server = RedisServerTransport("svc", url=url, receive_timeout_in_seconds=2)
        client.send_request_message(1, {}, job())
        assert redis.client(db=2).llen("pysoa:service.svc") == 1
        request_id, meta, _body = server.receive_request_message()
        assert meta is not None
        server.send_response_message(request_id, meta, response())
        assert client.receive_response_message(2).request_id == 1
    finally:
        redis.stop()
