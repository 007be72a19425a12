"""The I/O-free message layer shared by every transport (pysoa.common.transport.message)."""

from __future__ import annotations

import time
from typing import Any

import msgpack
import pytest

from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.transport.message import (
    Envelope,
    EnvelopeCodec,
    MessageSizes,
    ResponseRouter,
    SerializerRegistry,
    deadline_after,
    expiry_seconds,
    time_left,
)
from pysoa.errors import EncodeError, InvalidMessageError, MessageTooLarge


def codec(limit: int = 1000) -> EnvelopeCodec:
    return EnvelopeCodec(SerializerRegistry(MsgpackSerializer()), limit, "service 'x'")


def test_an_envelope_round_trips() -> None:
    c = codec()
    envelope = c.decode(c.encode(7, {"reply_to": "q"}, {"a": [1, 2]}))
    assert (envelope.request_id, envelope.meta, envelope.body) == (7, {"reply_to": "q"}, {"a": [1, 2]})


class _Serializer(MsgpackSerializer):
    """Hands back what it is told to, whatever the blob: the codec's decode sees any decoded value."""

    def __init__(self, decoded: object) -> None:
        super().__init__()
        self.decoded = decoded

    def blob_to_dict(self, blob: bytes) -> dict[str, Any]:
        return self.decoded  # type: ignore[return-value]


class _Dict(dict[str, Any]):
    pass


@pytest.mark.parametrize(
    ("decoded", "expected"),
    [
        ({"request_id": 7, "meta": {"a": 1}, "body": {"b": 2}}, (7, {"a": 1}, {"b": 2})),
        ({"request_id": 7, "meta": [1], "body": None}, (7, None, None)),  # meta that is no map reads as None
        ({"meta": {}}, (None, {}, None)),
        ({}, (None, None, None)),
    ],
)
def test_a_decoded_dict_and_a_dict_subclass_come_apart_alike(
    decoded: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    # Plain dicts are taken apart inline, anything else by split_envelope: the envelopes must be the same.
    envelopes = [
        EnvelopeCodec(SerializerRegistry(_Serializer(message)), 1000, "x").decode(b"")
        for message in (decoded, _Dict(decoded))
    ]
    assert envelopes[0] == envelopes[1] == expected
    assert all(type(envelope) is Envelope for envelope in envelopes)


def test_a_decoded_value_that_is_no_map_is_an_invalid_message() -> None:
    with pytest.raises(InvalidMessageError, match="not a map but list"):
        EnvelopeCodec(SerializerRegistry(_Serializer([1, 2])), 1000, "x").decode(b"")


class Sizes:
    def __init__(self) -> None:
        self.sent: list[int] = []
        self.received: list[int] = []


class Observer:
    def __init__(self, sizes: Sizes) -> None:
        self._sizes = sizes

    def sent(self, size: int) -> None:
        self._sizes.sent.append(size)

    def received(self, size: int) -> None:
        self._sizes.received.append(size)


def test_a_codec_reports_the_bytes_it_encodes_and_decodes_to_the_observer_of_its_size_hook() -> None:
    hook = MessageSizes()
    c = EnvelopeCodec(SerializerRegistry(MsgpackSerializer()), 1000, "service 'x'", hook)
    c.encode(1, {}, {"a": 1})  # nobody observes yet: nothing to tell
    seen = Sizes()
    hook.observer = Observer(seen)
    blob = c.encode(2, {}, {"a": "b" * 50})
    c.decode(blob)
    assert seen.sent == seen.received == [len(blob)]


def test_refused_and_undecodable_messages_are_not_reported() -> None:
    hook = MessageSizes()
    seen = Sizes()
    hook.observer = Observer(seen)
    c = EnvelopeCodec(SerializerRegistry(MsgpackSerializer()), 100, "service 'x'", hook)
    with pytest.raises(MessageTooLarge):
        c.encode(1, {}, {"blob": "x" * 200})
    with pytest.raises(InvalidMessageError):
        c.decode(b"\xc1")
    assert (seen.sent, seen.received) == ([], [])


def test_a_message_over_the_limit_is_refused_with_its_size_before_any_io() -> None:
    with pytest.raises(MessageTooLarge, match="exceeds the maximum of 100 bytes") as caught:
        codec(100).encode(1, {}, {"blob": "x" * 200})
    assert caught.value.message_size_in_bytes > 200


def test_an_unserializable_body_is_an_encode_error() -> None:
    with pytest.raises(EncodeError):
        codec().encode(1, {}, {"bad": object()})


def test_garbage_and_non_maps_are_invalid_messages() -> None:
    with pytest.raises(InvalidMessageError, match="Cannot decode"):
        codec().decode(b"\xc1")
    with pytest.raises(InvalidMessageError):
        codec().decode(msgpack.packb([1, 2]))


def test_unknown_content_types_decode_with_the_default_and_are_not_remembered() -> None:
    default = MsgpackSerializer()
    registry = SerializerRegistry(default)
    assert registry.serializer_for(None) is default
    assert registry.serializer_for("application/x-made-up") is default
    assert "application/x-made-up" not in registry._by_type
    assert registry.serializer_for(default.mime_type) is default


def test_known_content_types_come_from_the_lookup_once() -> None:
    from soa_json.serializer import JSONSerializer

    asked: list[str] = []

    def lookup(content_type: str) -> type[JSONSerializer] | None:
        asked.append(content_type)
        return JSONSerializer if content_type == JSONSerializer.mime_type else None

    registry = SerializerRegistry(MsgpackSerializer(), decode_limit=1234, lookup=lookup)
    json_serializer = registry.serializer_for(JSONSerializer.mime_type)
    assert isinstance(json_serializer, JSONSerializer)
    assert registry.serializer_for(JSONSerializer.mime_type) is json_serializer  # built once, then remembered
    assert asked == [JSONSerializer.mime_type]
    assert registry.serializer_for("application/x-made-up") is registry.default


def test_deadline_arithmetic() -> None:
    assert deadline_after(None) is None
    assert deadline_after(0) is None
    deadline = deadline_after(10)
    assert deadline is not None
    assert 9 < deadline - time.monotonic() <= 10
    assert time_left(None) is None
    assert time_left(time.monotonic() - 5) == 0.0
    assert expiry_seconds(None, 60) == (60.0, False)
    assert expiry_seconds(2.5, 60) == (2.5, True)


def test_the_router_hands_each_response_to_its_owner_and_drops_late_ones() -> None:
    router: ResponseRouter[str, str] = ResponseRouter()
    router.expect(1, "thread-a")
    router.expect(2, "thread-b")
    assert router.accept(2) == "thread-b"
    assert router.accept(2) is None  # a duplicate
    router.park(2, "response-2")
    router.abandon(1)
    assert router.accept(1) is None  # its caller gave up
    assert router.accept(["unhashable"]) is None
    assert router.take(2) == "response-2"
    assert router.take(2) is None
    assert len(router) == 0


def test_claiming_takes_a_parked_response_waits_for_an_expected_one_and_refuses_a_forgotten_one() -> None:
    router: ResponseRouter[str, str] = ResponseRouter()
    router.expect(1, "thread-a")
    router.expect(2, "thread-a")
    assert router.claim(1) is None  # still expected: wait for it
    assert router.accept(2) == "thread-a"
    router.park(2, "response-2")
    assert router.claim(2) == "response-2"
    with pytest.raises(KeyError):
        router.claim(2)  # taken: nobody waits for it any more
    router.abandon(1)
    with pytest.raises(KeyError):
        router.claim(1)


def test_the_router_lists_what_an_owner_waits_for_and_unclaimed_parked_responses() -> None:
    router: ResponseRouter[str, str] = ResponseRouter()
    for request_id, owner in ((1, "a"), (2, "b"), (3, "a")):
        router.expect(request_id, owner)
    assert router.expected_by("a") == [1, 3]
    router.accept(2)
    router.park(2, "r2")
    router.park(3, "r3")  # still expected by "a": not unclaimed
    assert list(router.parked_unclaimed()) == [(2, "r2")]
    assert router.clear() == {1: "a", 3: "a"}
