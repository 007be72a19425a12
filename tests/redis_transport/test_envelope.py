"""Queue names, reply-queue checks, expiry and envelope checks (no Redis needed)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pysoa.errors import InvalidMessageError
from soa_redis._envelope import (
    CONTENT_TYPE_META_KEY,
    EXPIRY_META_KEY,
    PROTOCOL_VERSION_META_KEY,
    REDIS_EXPIRY_META_KEY,
    Envelope,
    is_expired,
    is_valid_reply_to,
    make_reply_to,
    queue_key,
    redis_ttl_seconds,
    request_queue_key,
    split_envelope,
    stamp_expiry,
    validate_request,
    validate_response,
    wire_meta,
)

# The reply queue of the sample request envelope in docs/protocol.md.
GOLDEN_REPLY_TO = "service.echo.0123456789abcdef0123456789abcdef!00007f0000aa"


def test_queue_names_match_pysoa() -> None:
    assert request_queue_key("echo") == "pysoa:service.echo"
    assert make_reply_to("echo", "0123456789abcdef0123456789abcdef", "00007f0000aa") == GOLDEN_REPLY_TO
    assert queue_key(GOLDEN_REPLY_TO) == "pysoa:" + GOLDEN_REPLY_TO


def test_a_pysoa_reply_queue_is_accepted() -> None:
    assert is_valid_reply_to(GOLDEN_REPLY_TO, "echo")


@pytest.mark.parametrize(
    "reply_to",
    [
        "service.other.0123!abcd",  # another service's reply queue
        "service.echo",  # the request queue itself
        "service.echo.0123abcd",  # no '!': not a reply queue
        "pysoa:service.echo.0123!abcd",  # already prefixed: would become pysoa:pysoa:...
        "service.echo.!abcd",
        "service.echo.0123!",
        "service.echo.01 23!abcd",
        "service.echo.0123!ab!cd",
        "service.echo.0123!ab\ncd",
        "service.echo." + "a" * 600 + "!b",
        "config",
        "",
        None,
        42,
        ["service.echo.0123!abcd"],
    ],
)
def test_anything_but_a_reply_queue_of_this_service_is_refused(reply_to: Any) -> None:
    assert not is_valid_reply_to(reply_to, "echo")


@pytest.mark.parametrize(
    ("expires_in", "explicit", "ttl"),
    [(7, True, 17), (60, False, 60), (2.5, True, 13), (0.2, False, 1)],
)
def test_queue_ttl(expires_in: float, explicit: bool, ttl: int) -> None:
    assert redis_ttl_seconds(expires_in, explicit) == ttl


def test_expiry_is_stamped_on_the_senders_clock_and_the_redis_clock() -> None:
    meta: dict[str, Any] = {}
    stamp_expiry(meta, 5.0, now=1000.0, redis_clock_offset=-100.0)
    assert meta == {EXPIRY_META_KEY: 1005.0, REDIS_EXPIRY_META_KEY: [1005.0, 905.0]}


def test_without_the_redis_clock_only_pysoas_expiry_is_stamped() -> None:
    meta: dict[str, Any] = {REDIS_EXPIRY_META_KEY: [1.0, 2.0]}
    stamp_expiry(meta, 60.0, now=1000.0, redis_clock_offset=None)
    assert meta == {EXPIRY_META_KEY: 1060.0}


def test_pysoa_expiry_is_honoured_on_the_local_clock() -> None:
    assert is_expired({EXPIRY_META_KEY: 999.0}, now=1000.0, redis_clock_offset=None)
    assert not is_expired({EXPIRY_META_KEY: 1001.0}, now=1000.0, redis_clock_offset=None)
    # ...also when this side knows the Redis clock but the sender (PySOA) did not say.
    assert is_expired({EXPIRY_META_KEY: 999.0}, now=1000.0, redis_clock_offset=3.0)


# Redis's clock reads T. The sender's clock is 100 s ahead, the receiver's 50 s behind.
T = 10_000.0
SENDER_AHEAD = 100.0
RECEIVER_BEHIND = 50.0


def _sent_with_skew(expires_in: float) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    stamp_expiry(meta, expires_in, now=T + SENDER_AHEAD, redis_clock_offset=-SENDER_AHEAD)
    return meta


def test_skewed_clocks_do_not_keep_an_expired_message_alive() -> None:
    meta = _sent_with_skew(5.0)
    receiver_now = T + 20 - RECEIVER_BEHIND  # 20 s after sending: long expired
    assert not is_expired(meta, receiver_now, redis_clock_offset=None)  # what the skewed local clocks say
    assert is_expired(meta, receiver_now, redis_clock_offset=RECEIVER_BEHIND)


def test_skewed_clocks_do_not_expire_a_fresh_message() -> None:
    meta: dict[str, Any] = {}
    # This time the sender's clock is 100 s behind.
    stamp_expiry(meta, 5.0, now=T - 100.0, redis_clock_offset=100.0)
    receiver_now = T + 1  # 1 s after sending
    assert is_expired(meta, receiver_now, redis_clock_offset=None)  # what the skewed local clocks say
    assert not is_expired(meta, receiver_now, redis_clock_offset=0.0)


def test_a_pair_left_behind_by_an_echoing_peer_is_ignored() -> None:
    # A PySOA server echoes the request meta with a fresh __expiry__ but keeps our pair unchanged.
    meta = _sent_with_skew(5.0)
    meta[EXPIRY_META_KEY] = 2_000_000.0
    assert not is_expired(meta, T + 1000, redis_clock_offset=0.0)


@pytest.mark.parametrize(
    ("meta", "expired"),
    [
        # No usable __expiry__: never expires (PySOA's rule).
        ({}, False),
        ({EXPIRY_META_KEY: 0}, False),
        ({EXPIRY_META_KEY: None}, False),
        ({EXPIRY_META_KEY: "yesterday"}, False),
        ({EXPIRY_META_KEY: True}, False),
        ({EXPIRY_META_KEY: math.nan}, False),
        # A past __expiry__ with an unusable Redis-clock pair: the pair is ignored, __expiry__ decides.
        ({EXPIRY_META_KEY: 1.0, REDIS_EXPIRY_META_KEY: "x"}, True),
        ({EXPIRY_META_KEY: 1.0, REDIS_EXPIRY_META_KEY: [1.0]}, True),
        ({EXPIRY_META_KEY: 1.0, REDIS_EXPIRY_META_KEY: [1.0, "x"]}, True),
        ({EXPIRY_META_KEY: T + 60, REDIS_EXPIRY_META_KEY: [T + 60, math.inf]}, False),
    ],
)
def test_odd_expiry_values_never_raise(meta: dict[str, Any], expired: bool) -> None:
    assert is_expired(meta, now=T, redis_clock_offset=0.0) is expired


def test_odd_expiry_values_fall_back_to_pysoas_rule() -> None:
    assert not is_expired({EXPIRY_META_KEY: "yesterday"}, now=T, redis_clock_offset=0.0)
    assert is_expired({EXPIRY_META_KEY: 1.0, REDIS_EXPIRY_META_KEY: [1.0, "x"]}, now=T, redis_clock_offset=0.0)


def test_wire_meta_drops_what_the_transport_keeps_for_itself() -> None:
    meta = {"reply_to": "r", PROTOCOL_VERSION_META_KEY: 2, CONTENT_TYPE_META_KEY: "application/json", "x": 1}
    assert wire_meta(meta) == {"reply_to": "r", "x": 1}
    assert PROTOCOL_VERSION_META_KEY in meta


def test_split_envelope() -> None:
    assert split_envelope({"request_id": 1, "meta": {"a": 1}, "body": {}}) == Envelope(1, {"a": 1}, {})
    assert split_envelope({"request_id": 1, "meta": "x"}) == Envelope(1, None, None)


def test_a_message_that_is_not_a_map_cannot_be_answered() -> None:
    with pytest.raises(InvalidMessageError, match="not a map but list") as info:
        split_envelope([1, 2])
    assert (info.value.request_id, info.value.meta) == (None, None)


def _request(request_id: Any = 7, reply_to: Any = GOLDEN_REPLY_TO, body: Any = None) -> Envelope:
    meta = {} if reply_to is None else {"reply_to": reply_to}
    return Envelope(request_id, meta, {"actions": []} if body is None else body)


@pytest.mark.parametrize(
    ("reply_to", "service"),
    [
        (GOLDEN_REPLY_TO, "echo"),
        ("service.other.0123456789abcdef0123456789abcdef!00007f0000aa", "other"),
        ("service.a.b.0123456789abcdef0123456789abcdef!7f0000aa00007f00", "a.b"),  # dotted name, long thread id
    ],
)
def test_a_good_request_passes_unchanged(reply_to: str, service: str) -> None:
    envelope = _request(reply_to=reply_to)
    validate_request(envelope, service)
    assert envelope == _request(reply_to=reply_to)
    # The same request sent to another service's queue is refused: the check above was not vacuous.
    with pytest.raises(InvalidMessageError, match="Refusing reply queue"):
        validate_request(envelope, "elsewhere")


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        (Envelope(7, None, {}), "no meta"),
        (_request(request_id=None), "no request_id"),
        (_request(reply_to=None), "no reply queue"),
        (_request(reply_to="service.other.1!2"), "Refusing reply queue"),
        (_request(reply_to="pysoa:config"), "Refusing reply queue"),
    ],
)
def test_requests_that_cannot_be_answered_carry_no_reply_address(envelope: Envelope, message: str) -> None:
    with pytest.raises(InvalidMessageError, match=message) as info:
        validate_request(envelope, "echo")
    assert (info.value.request_id, info.value.meta) == (None, None)


@pytest.mark.parametrize("body", [[1], "job", 3, b"x"])
def test_a_bad_body_with_a_valid_reply_queue_can_be_answered(body: Any) -> None:
    envelope = _request(body=body)
    with pytest.raises(InvalidMessageError, match="body is not a map") as info:
        validate_request(envelope, "echo")
    assert (info.value.request_id, info.value.meta) == (7, {"reply_to": GOLDEN_REPLY_TO})


def test_response_checks() -> None:
    validate_response(Envelope(3, {}, {"errors": []}))
    with pytest.raises(InvalidMessageError, match="no request_id"):
        validate_response(Envelope(None, {}, {}))
    with pytest.raises(InvalidMessageError, match="request_id is a list") as unroutable:
        validate_response(Envelope([1], {}, {}))
    assert unroutable.value.request_id is None
    with pytest.raises(InvalidMessageError, match="not a map") as info:
        validate_response(Envelope(3, {}, None))
    assert info.value.request_id == 3


@pytest.mark.parametrize("on_redis", [math.inf, -math.inf, math.nan])
def test_a_redis_clock_pair_of_floats_that_are_not_finite_falls_back_to_the_local_expiry(on_redis: float) -> None:
    meta = {EXPIRY_META_KEY: 999.0, REDIS_EXPIRY_META_KEY: [999.0, on_redis]}
    assert is_expired(meta, now=1000.0, redis_clock_offset=0.0)
    assert not is_expired(meta, now=998.0, redis_clock_offset=0.0)
