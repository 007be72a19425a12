"""Frames on the wire: PySOA's three protocol versions, header parsing and chunking (no Redis needed)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from soa_redis._framing import ChunkAssembly, Frame, FrameError, build_frames, parse_frame

MSGPACK = "application/msgpack"
JSON = "application/json"


def test_each_version_frames_like_pysoa() -> None:
    payload = b"\x83\xaarequest_id*"
    assert build_frames(payload, 1, MSGPACK) == [payload]
    assert build_frames(payload, 2, MSGPACK) == [b"content-type:application/msgpack;" + payload]
    assert build_frames(payload, 3, JSON) == [b"pysoa-redis/3//content-type:application/json;" + payload]


@pytest.mark.parametrize(
    ("data", "version", "content_type"),
    [
        (b"\x83\xaarequest_id", 1, None),
        (b"content-type:application/json;{}", 2, JSON),
        (b"pysoa-redis/3//content-type:application/msgpack;\x83", 3, MSGPACK),
    ],
)
def test_version_detection(data: bytes, version: int, content_type: str | None) -> None:
    frame = parse_frame(data)
    assert (frame.version, frame.content_type) == (version, content_type)


def test_headers_tolerate_whitespace_around_tokens() -> None:
    frame = parse_frame(b"pysoa-redis/3// content-type : application/json ;\tchunk-count: 2 ; chunk-id :1;{}")
    assert (frame.content_type, frame.chunk_count, frame.chunk_id, frame.payload) == (JSON, 2, 1, b"{}")


def test_payload_after_the_last_header_is_never_stripped() -> None:
    # PySOA issue #240: a chunk boundary falling on whitespace broke the message.
    frame = parse_frame(b"pysoa-redis/3//content-type:application/json;chunk-count:2;chunk-id:2; \n\t 1}")
    assert frame.payload == b" \n\t 1}"


def test_payload_that_looks_like_a_header_is_payload() -> None:
    # A chunk slice can start with any bytes, including text that reads like a header already seen.
    frame = parse_frame(b"pysoa-redis/3//content-type:application/json;chunk-count:2;chunk-id:2;content-type:x;")
    assert (frame.content_type, frame.payload) == (JSON, b"content-type:x;")


def test_a_v3_frame_without_content_type_uses_the_default() -> None:
    assert parse_frame(b"pysoa-redis/3//\x81\xa1a\x01") == Frame(3, None, None, None, b"\x81\xa1a\x01")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"pysoa-redis/4//content-type:application/json;{}", "Unsupported protocol version 4"),
        (b"pysoa-redis/3//content-type:application/json;chunk-count:2;{}", "both chunk-count and chunk-id"),
        (b"pysoa-redis/3//chunk-id:1;{}", "both chunk-count and chunk-id"),
        (b"pysoa-redis/3//chunk-count:2;chunk-id:3;{}", "greater than chunk-count"),
        (b"pysoa-redis/3//chunk-count:two;chunk-id:1;{}", "positive integer"),
        (b"pysoa-redis/3//chunk-count:0;chunk-id:0;{}", "out of range"),
        (b"content-type=application/json;{}", "Malformed content-type"),
    ],
)
def test_malformed_frames_raise_frame_error(data: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        parse_frame(data)


def test_a_frame_must_be_bytes() -> None:
    with pytest.raises(FrameError, match="must be bytes"):
        parse_frame("text")  # type: ignore[arg-type]


def test_chunking_splits_like_pysoa() -> None:
    payload = bytes(range(256)) * 977  # 250,112 bytes
    frames = build_frames(payload, 3, MSGPACK, chunk_threshold=102_400)
    headers = [b"pysoa-redis/3//content-type:application/msgpack;chunk-count:3;chunk-id:%d;" % i for i in (1, 2, 3)]
    assert frames == [
        headers[0] + payload[:102_400],
        headers[1] + payload[102_400:204_800],
        headers[2] + payload[204_800:],
    ]


def test_no_chunks_at_or_below_the_threshold() -> None:
    assert len(build_frames(b"x" * 100, 3, MSGPACK, chunk_threshold=100)) == 1


def test_v1_and_v2_cannot_carry_chunks() -> None:
    with pytest.raises(ValueError, match="cannot carry chunked"):
        build_frames(b"x" * 101, 2, MSGPACK, chunk_threshold=100)


def _chunks(payload: bytes, threshold: int) -> list[Frame]:
    return [parse_frame(frame) for frame in build_frames(payload, 3, JSON, threshold)]


def test_chunks_reassemble_in_order() -> None:
    first, *rest = _chunks(b"abcdefghij", 4)
    assembly = ChunkAssembly(first)
    for chunk in rest:
        assert not assembly.complete
        assembly.add(chunk)
    assert assembly.complete
    assert assembly.payload() == b"abcdefghij"


def test_chunks_out_of_order_are_refused() -> None:
    first, _second, third = _chunks(b"abcdefghij", 4)
    assembly = ChunkAssembly(first)
    with pytest.raises(FrameError, match="Expected chunk 2 of 3, got chunk 3 of 3"):
        assembly.add(third)


def test_chunks_of_another_message_are_refused() -> None:
    first, _second, _third = _chunks(b"abcdefghij", 4)
    _other_first, other_second = _chunks(b"abcdefgh", 4)
    assembly = ChunkAssembly(first)
    with pytest.raises(FrameError, match="got chunk 2 of 2"):
        assembly.add(other_second)


def test_a_chunked_message_must_start_with_chunk_one() -> None:
    _first, second, _third = _chunks(b"abcdefghij", 4)
    with pytest.raises(FrameError, match="must start with chunk-id 1"):
        ChunkAssembly(second)


def test_an_incomplete_message_has_no_payload() -> None:
    first, _second, _third = _chunks(b"abcdefghij", 4)
    with pytest.raises(FrameError, match="2 chunk"):
        ChunkAssembly(first).payload()


def test_reassembly_respects_a_size_limit() -> None:
    first, second, _third = _chunks(b"abcdefghij", 4)
    assembly = ChunkAssembly(first, max_size=6)
    with pytest.raises(FrameError, match="exceeds 6 bytes"):
        assembly.add(second)


@given(
    payload=st.binary(max_size=300) | st.text(alphabet=" \t\n;:content-ypchunkid0123", max_size=300).map(str.encode),
    version=st.sampled_from([1, 2, 3]),
    content_type=st.sampled_from([MSGPACK, JSON]),
    threshold=st.none() | st.integers(min_value=1, max_value=64),
)
def test_every_frame_parses_back_to_its_payload(
    payload: bytes, version: int, content_type: str, threshold: int | None
) -> None:
    if version < 3:
        threshold = None
    if version == 1 and payload.startswith((b"content-type", b"pysoa-redis/")):
        return  # a bare v1 payload that starts like a header is ambiguous by design of the protocol
    frames = [parse_frame(frame) for frame in build_frames(payload, version, content_type, threshold)]
    assert {frame.version for frame in frames} == {version}
    if version > 1:
        assert {frame.content_type for frame in frames} == {content_type}
    if len(frames) == 1 and not frames[0].is_chunk:
        assert frames[0].payload == payload
    else:
        assembly = ChunkAssembly(frames[0])
        for frame in frames[1:]:
            assembly.add(frame)
        assert assembly.payload() == payload


def test_the_default_framing_reads_the_same_whatever_byte_starts_the_payload() -> None:
    # soa-core's own v3/msgpack frames take a short path; every payload must read exactly as the header rules say.
    prefix = b"pysoa-redis/3//content-type:application/msgpack;"
    for first in range(256):
        frame = parse_frame(prefix + bytes([first]) + b"xyz;")
        assert (frame.version, frame.content_type, frame.chunk_count) == (3, "application/msgpack", None)
        assert frame.payload == bytes([first]) + b"xyz;"
    chunk = parse_frame(prefix + b" chunk-count:2;chunk-id:1;\x81")
    assert (chunk.chunk_count, chunk.chunk_id, chunk.payload) == (2, 1, b"\x81")


class _Bytes(bytes):
    pass


@pytest.mark.parametrize(
    "data",
    [
        b"pysoa-redis/3//content-type:application/msgpack;\x81xyz",  # the short path
        b"pysoa-redis/3//content-type:application/json;{}",
        b"pysoa-redis/3//content-type:application/msgpack;chunk-count:2;chunk-id:1;\x81",
        b"content-type:application/msgpack;\x81",
        b"\x81\xa1a\x01",
    ],
)
def test_a_bytearray_or_bytes_subclass_frame_reads_as_the_same_bytes_frame(data: bytes) -> None:
    # Redis replies are bytes, which take the short path; other bytes-like input must read identically, as bytes.
    expected = parse_frame(data)
    for other in (bytearray(data), _Bytes(data)):
        frame = parse_frame(other)  # type: ignore[arg-type]
        assert frame == expected
        assert type(frame) is Frame
        assert type(frame.payload) is bytes
