"""The wire format (no I/O)."""

from __future__ import annotations

import struct

import pytest

from pysoa.errors import InvalidMessageError
from soa_zmq._protocol import (
    HEARTBEAT,
    REQUEST,
    RESPONSE,
    control_header,
    expires_at_of,
    parse_header,
    request_header,
    response_header,
    split_request,
    split_response,
    wire_meta,
)


def test_headers_round_trip() -> None:
    request = parse_header(request_header(1234.5, b"application/msgpack"))
    assert (request.kind, request.expires_at, request.content_type) == (REQUEST, 1234.5, "application/msgpack")
    assert expires_at_of(request_header(99.25, b"x")) == 99.25
    response = parse_header(response_header(b"application/json"))
    assert (response.kind, response.content_type) == (RESPONSE, "application/json")
    assert parse_header(control_header(HEARTBEAT)).kind == HEARTBEAT


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"", "Not a soa-zmq header"),
        (b"SZ\x01", "Not a soa-zmq header"),
        (b"XX" + request_header(1.0, b"")[2:], "bad magic"),
        (b"SZ\x02" + request_header(1.0, b"")[3:], "Unsupported soa-zmq protocol version 2"),
        (struct.pack("!2sBBd", b"SZ", 1, 99, 0.0), "Unknown soa-zmq message kind 99"),
        (request_header(1.0, "é".encode()), "not ASCII"),
        (request_header(1.0, b"x" * 500), "Not a soa-zmq header"),
    ],
)
def test_anything_else_is_refused(frame: bytes, message: str) -> None:
    with pytest.raises(InvalidMessageError, match=message):
        parse_header(frame)


def test_a_request_without_an_id_cannot_be_answered() -> None:
    with pytest.raises(InvalidMessageError) as info:
        split_request({"meta": {}, "body": {}})
    assert info.value.request_id is None


@pytest.mark.parametrize("message", [[1, 2], "text", None])
def test_a_request_that_is_not_a_map_cannot_be_answered(message: object) -> None:
    with pytest.raises(InvalidMessageError) as info:
        split_request(message)
    assert info.value.request_id is None


def test_a_request_with_an_id_but_a_bad_body_or_meta_can_still_be_answered() -> None:
    with pytest.raises(InvalidMessageError) as info:
        split_request({"request_id": 7, "meta": {"client_version": [1]}, "body": [1]})
    assert (info.value.request_id, info.value.meta) == (7, {"client_version": [1]})
    with pytest.raises(InvalidMessageError) as info:
        split_request({"request_id": 8, "meta": "nope", "body": {}})
    assert (info.value.request_id, info.value.meta) == (8, {})


def test_a_request_without_meta_gets_an_empty_one() -> None:
    assert split_request({"request_id": 1, "body": {"a": 1}}) == (1, {}, {"a": 1})


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"body": {}}, "no request_id"),
        ({"request_id": [1], "body": {}}, "request_id is a list"),
        ({"request_id": 1, "body": "x"}, "body is not a map"),
        ([], "not a map"),
    ],
)
def test_bad_responses_are_refused(message: object, error: str) -> None:
    with pytest.raises(InvalidMessageError, match=error):
        split_response(message)


def test_the_workers_private_meta_never_travels_back() -> None:
    assert wire_meta({"client_version": [1], "__zmq_reply_to__": b"id", "__content_type__": "x"}) == {
        "client_version": [1]
    }
