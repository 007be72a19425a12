"""Hostile and malformed messages pushed raw onto the queues: the worker keeps going and never writes elsewhere."""

from __future__ import annotations

import json
import time
from typing import Any

import msgpack
import pytest

from pysoa.common.metrics import CountingMetricsRecorder
from pysoa.errors import InvalidMessageError, RequestTooLarge
from soa_redis.server import RedisServerTransport

from .helpers import V3_MSGPACK, as_bytes, decode_raw, job, packed, raw_request, response, transports
from .servers import RedisProcess

pytestmark = pytest.mark.redis

REPLY_TO = "service.svc.0123456789abcdef0123456789abcdef!00007f0000aa"
QUEUE = "pysoa:service.svc"


@pytest.fixture
def server(redis_server: RedisProcess) -> RedisServerTransport:
    return RedisServerTransport(
        "svc", CountingMetricsRecorder(), url=redis_server.url, receive_timeout_in_seconds=1,
        maximum_message_size_in_bytes=10_000,
    )  # fmt: skip


def _push(redis_server: RedisProcess, *frames: bytes) -> None:
    redis_server.client().rpush(QUEUE, *frames)


def _good() -> bytes:
    return packed(raw_request(99, REPLY_TO, __expiry__=time.time() + 60))


OVERSIZE = raw_request(1, REPLY_TO, body=job(blob="x" * 20_000))  # JSON cannot be read in part: no reply address
UNANSWERABLE = {
    "garbage bytes": b"\xc1\xc1\xc1",
    "empty frame": b"",
    "json header on msgpack bytes": packed(raw_request(1, REPLY_TO), b"pysoa-redis/3//content-type:application/json;"),
    "not a map": packed([1, 2, 3]),
    "meta not a map": packed({"request_id": 1, "meta": "x", "body": job()}),
    "no request_id": packed({"meta": {"reply_to": REPLY_TO}, "body": job()}),
    "no reply_to": packed(raw_request(1)),
    "foreign reply_to": packed(raw_request(1, "service.other.0123!abcd")),
    "reply_to outside pysoa": packed(raw_request(1, "config")),
    "reply_to a request queue": packed(raw_request(1, "service.svc")),
    "bad extension payload": V3_MSGPACK + b"\x83\xaarequest_id\x01\xa4meta\x80\xa4body\xd6\x03\x07",
    "unknown extension": V3_MSGPACK + b"\x81\xa1x\xd4\x63\x00",
    "chunked request": b"pysoa-redis/3//content-type:application/msgpack;chunk-count:2;chunk-id:1;\x83",
    "unsupported version": b"pysoa-redis/9//content-type:application/msgpack;\x80",
    "malformed header": b"content-type=application/msgpack;\x80",
    "oversize frame, foreign reply_to": packed(raw_request(1, "service.other.0123!abcd", body=job(blob="x" * 20_000))),
    "oversize frame, JSON": b"content-type:application/json;" + json.dumps(OVERSIZE).encode(),
}  # fmt: skip


@pytest.mark.parametrize("frame", UNANSWERABLE.values(), ids=UNANSWERABLE.keys())
def test_unanswerable_messages_raise_without_a_reply_address(
    redis_server: RedisProcess, server: RedisServerTransport, frame: bytes
) -> None:
    _push(redis_server, frame, _good())
    with pytest.raises(InvalidMessageError) as info:
        server.receive_request_message()
    assert (info.value.request_id, info.value.meta) == (None, None)
    # The worker goes on with the next request, and nothing was written anywhere.
    assert server.receive_request_message().request_id == 99
    assert redis_server.client().keys("*") == []
    metrics = server.metrics
    assert isinstance(metrics, CountingMetricsRecorder)
    assert metrics.counts["transport.redis.server.receive.invalid_message"] == 1


@pytest.mark.parametrize("version", [1, 2, 3])
def test_an_oversize_request_with_a_valid_reply_queue_is_refused_with_its_reply_address(
    redis_server: RedisProcess, server: RedisServerTransport, version: int
) -> None:
    prefix = {1: b"", 2: b"content-type:application/msgpack;", 3: V3_MSGPACK}[version]
    _push(redis_server, packed(raw_request(7, REPLY_TO, body=job(blob="x" * 20_000)), prefix), _good())
    with pytest.raises(RequestTooLarge, match=r"Refused a request of \d+ bytes to 'svc'.* is 10000") as info:
        server.receive_request_message()
    assert info.value.request_id == 7
    assert info.value.meta is not None
    assert info.value.meta["reply_to"] == REPLY_TO
    server.send_response_message(7, info.value.meta, {"errors": [{"code": "REQUEST_TOO_LARGE"}]})
    head, sent = decode_raw(redis_server.client().lindex("pysoa:" + REPLY_TO, 0))
    assert head == prefix  # answered in the client's own framing
    assert (sent["request_id"], sent["body"]) == (7, {"errors": [{"code": "REQUEST_TOO_LARGE"}]})
    assert server.receive_request_message().request_id == 99


def test_an_expired_oversize_request_is_dropped_unanswered(
    redis_server: RedisProcess, server: RedisServerTransport
) -> None:
    expired = raw_request(7, REPLY_TO, body=job(blob="x" * 20_000), __expiry__=time.time() - 5)
    _push(redis_server, packed(expired), _good())
    assert server.receive_request_message().request_id == 99
    assert redis_server.client().keys("*") == []


@pytest.mark.parametrize("body", [[1, 2], "a job", None, 7])
def test_a_bad_body_with_a_valid_reply_queue_is_answered_in_the_clients_framing(
    redis_server: RedisProcess, server: RedisServerTransport, body: Any
) -> None:
    envelope = {"request_id": 5, "meta": {"reply_to": REPLY_TO}, "body": body}
    _push(redis_server, b"content-type:application/json;" + json.dumps(envelope).encode())
    with pytest.raises(InvalidMessageError, match="body is not a map") as info:
        server.receive_request_message()
    assert info.value.request_id == 5
    assert info.value.meta is not None
    server.send_response_message(info.value.request_id, info.value.meta, {"errors": [{"code": "INVALID"}]})
    reply = redis_server.client().lindex("pysoa:" + REPLY_TO, 0)
    head, sent = decode_raw(reply)
    assert head == b"content-type:application/json;"
    assert (sent["request_id"], sent["body"]) == (5, {"errors": [{"code": "INVALID"}]})


def test_an_unknown_content_type_falls_back_to_the_default_serializer(
    redis_server: RedisProcess, server: RedisServerTransport
) -> None:
    _push(redis_server, b"pysoa-redis/3//content-type:application/x-made-up;" + msgpack.packb(raw_request(3, REPLY_TO)))
    request_id, meta, _body = server.receive_request_message()
    assert request_id == 3
    assert meta is not None
    server.send_response_message(request_id, meta, response())
    assert as_bytes(redis_server.client().lindex("pysoa:" + REPLY_TO, 0)).startswith(V3_MSGPACK)


def test_a_string_request_id_is_echoed(redis_server: RedisProcess, server: RedisServerTransport) -> None:
    _push(redis_server, packed(raw_request("abc", REPLY_TO)))
    request_id, meta, _body = server.receive_request_message()
    assert request_id == "abc"
    assert meta is not None
    server.send_response_message(request_id, meta, response())
    assert decode_raw(redis_server.client().lindex("pysoa:" + REPLY_TO, 0))[1]["request_id"] == "abc"


@pytest.mark.parametrize("reply_to", [None, "config", "service.other.1!2", "service.svc", "pysoa:service.svc.1!2"])
def test_a_server_never_replies_to_a_forged_queue(
    redis_server: RedisProcess, server: RedisServerTransport, reply_to: Any
) -> None:
    with pytest.raises(InvalidMessageError):
        server.send_response_message(1, {"reply_to": reply_to}, response())
    with pytest.raises(InvalidMessageError, match="No request ID"):
        server.send_response_message(None, {"reply_to": REPLY_TO}, response())
    assert redis_server.client().keys("*") == []


def test_garbage_on_a_reply_queue_does_not_fail_the_call(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server)
    client.send_request_message(1, {}, job())
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    raw = redis_server.client()
    reply_key = "pysoa:" + meta["reply_to"]
    raw.rpush(reply_key, b"\xc1garbage", b"pysoa-redis/3//content-type:application/msgpack;chunk-count:2;chunk-id:2;x")
    raw.rpush(reply_key, packed({"meta": {}, "body": {}}))  # no request id: cannot be routed
    raw.rpush(reply_key, packed({"request_id": [1], "meta": {}, "body": {}}))  # nor with this one
    server.send_response_message(request_id, meta, response(ok=True))
    assert client.receive_response_message(2).body == response(ok=True)


def test_an_unusable_reply_to_a_known_request_is_an_error_for_that_request(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server)
    client.send_request_message(1, {}, job())
    _request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    redis_server.client().rpush("pysoa:" + meta["reply_to"], packed({"request_id": 1, "meta": {}, "body": "x"}))
    with pytest.raises(InvalidMessageError) as info:
        client.receive_response_message(2)
    assert info.value.request_id == 1
    assert client.requests_outstanding == 0


def _reply_queue_of(client: Any) -> str:
    return str(client._state().reply_key)


@pytest.mark.parametrize("first_wait_behind_push", [True, False])
def test_a_client_reads_unusual_responses_as_the_full_checks_say(
    redis_server: RedisProcess, first_wait_behind_push: bool
) -> None:
    # The usual response (int or str id, map body) skips the full response checks: every other must still get them.
    client, _server = transports(redis_server)
    client._first_wait_behind_push = first_wait_behind_push
    for request_id in (1, 2, "three"):
        client.send_request_message(request_id, {}, job())
    queue = _reply_queue_of(client)
    redis_server.client().rpush(
        queue,
        packed({"request_id": [1], "meta": {}, "body": response()}),  # names no request: dropped
        packed({"request_id": 2.0, "meta": {}, "body": response(n=2)}),  # a float naming request 2
        packed({"request_id": 1, "meta": {}, "body": [1, 2]}),  # a body that is no map: request 1 fails
        packed({"request_id": "three", "meta": {}, "body": response(n=3)}),
    )
    second = client.receive_response_message(2)
    assert (second.request_id, type(second.request_id), second.body) == (2.0, float, response(n=2))
    with pytest.raises(InvalidMessageError, match="body is not a map") as info:
        client.receive_response_message(2)
    assert info.value.request_id == 1
    third = client.receive_response_message(2)
    assert (third.request_id, third.body) == ("three", response(n=3))
    assert client.requests_outstanding == 0


@pytest.mark.parametrize(
    ("envelope", "answerable"),
    [
        ({"meta": {"reply_to": REPLY_TO}, "body": job()}, False),  # no request id
        ({"request_id": None, "meta": {"reply_to": REPLY_TO}, "body": job()}, False),
        ({"request_id": 8, "meta": {"reply_to": REPLY_TO}, "body": [1, 2]}, True),  # a body that is no map
        ({"request_id": 8, "meta": {"reply_to": REPLY_TO.encode()}, "body": job()}, False),  # bytes, not the str
    ],
)
def test_a_reply_queue_answered_before_does_not_spare_a_request_the_envelope_checks(
    redis_server: RedisProcess, server: RedisServerTransport, envelope: dict[str, Any], answerable: bool
) -> None:
    # The server keeps the reply queues it answered (valid ones): a request to one still has every other check.
    _push(redis_server, _good())
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    server.send_response_message(request_id, meta, response())
    _push(redis_server, packed(envelope), _good())
    with pytest.raises(InvalidMessageError) as info:
        server.receive_request_message()
    assert (info.value.request_id is not None, info.value.meta is not None) == (answerable, answerable)
    assert server.receive_request_message().request_id == 99  # and the worker goes on


def test_a_usual_request_to_a_reply_queue_answered_before_skips_the_envelope_checks(
    redis_server: RedisProcess, server: RedisServerTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    _push(redis_server, _good())
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    server.send_response_message(request_id, meta, response())

    def refuse(*_args: Any) -> None:
        raise AssertionError("the checks ran again")

    monkeypatch.setattr("soa_redis.server.validate_request", refuse)
    _push(redis_server, _good())
    assert server.receive_request_message().request_id == 99
