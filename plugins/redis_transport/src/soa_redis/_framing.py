"""Redis frames: protocol versions 1/2/3, headers and response chunks (docs/protocol.md, section 2). No I/O.

A frame is what one Redis list element holds:

* v1: the bare serialized envelope;
* v2: ``content-type:<mime>;`` + envelope;
* v3: ``pysoa-redis/3//content-type:<mime>;`` + envelope, and for chunked responses
  ``pysoa-redis/3//content-type:<mime>;chunk-count:<n>;chunk-id:<i>;`` + slice ``i`` (1-based).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Final, NamedTuple

__all__ = [
    "DEFAULT_PROTOCOL_VERSION",
    "MINIMUM_CHUNK_THRESHOLD",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "ChunkAssembly",
    "Frame",
    "FrameError",
    "build_frames",
    "frame_prefix",
    "needs_chunks",
    "parse_frame",
]

DEFAULT_PROTOCOL_VERSION: Final = 3
SUPPORTED_PROTOCOL_VERSIONS: Final = (1, 2, 3)
CHUNKING_PROTOCOL_VERSION: Final = 3
# PySOA refuses smaller chunk thresholds; keeping the floor keeps our settings valid for it too.
MINIMUM_CHUNK_THRESHOLD: Final = 102_400

_VERSION_MARKER: Final = re.compile(rb"pysoa-redis/(\d{1,6})//")
_V2_START: Final = b"content-type"
# Whitespace is allowed around every token, as PySOA's parser allows it. The header value charset is
# PySOA's plus '+', so structured-suffix MIME types (application/vnd.x+json) survive.
_HEADER: Final = re.compile(rb"\s*(content-type|chunk-count|chunk-id)\s*:\s*([a-zA-Z0-9_/.+-]+)\s*;")
_MAX_CHUNK_COUNT: Final = 1_000_000
# soa-core's default framing. A frame starting with it whose next byte cannot begin another header (headers may be
# preceded by whitespace, and the only one that may follow is chunk-count) is read without the header regexes.
_DEFAULT_PREFIX: Final = b"pysoa-redis/3//content-type:application/msgpack;"
_DEFAULT_PREFIX_LENGTH: Final = len(_DEFAULT_PREFIX)
_HEADER_STARTS: Final = frozenset(b" \t\n\r\x0b\x0cc")
_BYTES_TYPES: Final = (bytes, bytearray)  # a tuple built once: ``bytes | bytearray`` makes a new union per call


class FrameError(ValueError):
    """A frame's version marker or headers are malformed."""


class Frame(NamedTuple):
    """One parsed frame: its protocol version, its headers and the payload after the last header.

    A named tuple: one is built per message received, and a frozen dataclass costs several times more to build.
    """

    version: int
    content_type: str | None
    chunk_count: int | None
    chunk_id: int | None
    payload: bytes

    @property
    def is_chunk(self) -> bool:
        return self.chunk_count is not None


_new_tuple = tuple.__new__


@functools.lru_cache(maxsize=32)  # a handful of (version, content type) pairs: built once each, not per message
def frame_prefix(version: int, content_type: str) -> bytes:
    """What precedes the serialized envelope in an unchunked frame (see the module's description)."""
    if version not in SUPPORTED_PROTOCOL_VERSIONS:
        raise ValueError(f"Unsupported protocol version {version!r}")
    if version == 1:
        return b""
    header = b"content-type:" + content_type.encode("ascii") + b";"
    if version == 2:
        return header
    return b"pysoa-redis/%d//" % version + header


def build_frames(payload: bytes, version: int, content_type: str, chunk_threshold: int | None = None) -> list[bytes]:
    """Frame a serialized envelope; split it into chunks when ``chunk_threshold`` is set and exceeded.

    ``chunk_threshold`` must only be given for protocol v3 (chunking needs the v3 headers); callers
    check that a v1/v2 peer never needs chunks. Every chunk carries all three headers, in PySOA's order.
    """
    prefix = frame_prefix(version, content_type)
    if chunk_threshold is None or len(payload) <= chunk_threshold:
        return [prefix + payload]
    if version < CHUNKING_PROTOCOL_VERSION:
        raise ValueError(f"Protocol version {version} cannot carry chunked messages")
    if chunk_threshold <= 0:
        raise ValueError("chunk_threshold must be positive")
    count = math.ceil(len(payload) / chunk_threshold)
    frames = []
    for index in range(count):
        start = index * chunk_threshold
        headers = b"chunk-count:%d;chunk-id:%d;" % (count, index + 1)
        frames.append(prefix + headers + payload[start : start + chunk_threshold])
    return frames


def needs_chunks(payload_size: int, chunk_threshold: int | None) -> bool:
    return chunk_threshold is not None and payload_size > chunk_threshold


def _positive_int(name: str, raw: bytes) -> int:
    if not raw.isdigit() or len(raw) > 7:
        raise FrameError(f"Header {name} must be a positive integer, got {raw[:20]!r}")
    value = int(raw)
    if not 1 <= value <= _MAX_CHUNK_COUNT:
        raise FrameError(f"Header {name} out of range: {value}")
    return value


def parse_frame(data: bytes) -> Frame:
    """Split a frame into version, headers and payload. Raises :class:`FrameError` only.

    Detection follows PySOA: a leading ``pysoa-redis/<n>//`` gives version ``n``, else a leading
    ``content-type`` gives v2, else the whole frame is a v1 payload. Headers are read while they
    match; each name is read at most once, so payload bytes that happen to look like a header (a
    chunk slice may start with anything) are never eaten, and nothing after the last ``;`` is
    stripped, whitespace included.
    """
    if type(data) is not bytes:  # what Redis replies hold; a bytearray is read as bytes (slices of it are then bytes)
        if not isinstance(data, _BYTES_TYPES):
            raise FrameError(f"A frame must be bytes, not {type(data).__name__}")
        data = bytes(data)
    if (
        data.startswith(_DEFAULT_PREFIX)
        and len(data) > _DEFAULT_PREFIX_LENGTH
        and data[_DEFAULT_PREFIX_LENGTH] not in _HEADER_STARTS
    ):
        # One per message received: the tuple is built without the named tuple's Python-level __new__.
        return _new_tuple(Frame, (3, "application/msgpack", None, None, data[_DEFAULT_PREFIX_LENGTH:]))
    marker = _VERSION_MARKER.match(data)
    if marker is not None:
        version = int(marker.group(1))
        if version not in SUPPORTED_PROTOCOL_VERSIONS:
            raise FrameError(f"Unsupported protocol version {version} (this transport speaks 1, 2 and 3)")
        position = marker.end()
    elif data.startswith(_V2_START):
        version, position = 2, 0
    else:
        return Frame(1, None, None, None, data)

    headers: dict[bytes, bytes] = {}
    while True:
        match = _HEADER.match(data, position)
        if match is None or match.group(1) in headers:
            break
        headers[match.group(1)] = match.group(2)
        position = match.end()
    if version == 2 and b"content-type" not in headers:
        # It started with "content-type" but that was not a well-formed header.
        raise FrameError("Malformed content-type header")

    content_type = headers[b"content-type"].decode("ascii") if b"content-type" in headers else None
    raw_count, raw_id = headers.get(b"chunk-count"), headers.get(b"chunk-id")
    if (raw_count is None) != (raw_id is None):
        raise FrameError("A chunk needs both chunk-count and chunk-id headers")
    chunk_count = chunk_id = None
    if raw_count is not None and raw_id is not None:
        chunk_count = _positive_int("chunk-count", raw_count)
        chunk_id = _positive_int("chunk-id", raw_id)
        if chunk_id > chunk_count:
            raise FrameError(f"chunk-id {chunk_id} is greater than chunk-count {chunk_count}")
    return Frame(version, content_type, chunk_count, chunk_id, data[position:])


class ChunkAssembly:
    """Collects the chunks of one response, which must arrive in order: 1, 2, ..., n.

    The serialized envelope is only valid once every chunk is in; the content type and protocol
    version of the first chunk apply to the whole message.
    """

    __slots__ = ("_expected", "_parts", "_size", "first", "max_size")

    def __init__(self, first: Frame, max_size: int | None = None) -> None:
        if first.chunk_count is None or first.chunk_id != 1:
            raise FrameError(f"A chunked message must start with chunk-id 1, got chunk-id {first.chunk_id}")
        self.first = first
        self.max_size = max_size
        self._parts = [first.payload]
        self._size = len(first.payload)
        self._expected = 2

    @property
    def complete(self) -> bool:
        assert self.first.chunk_count is not None
        return self._expected > self.first.chunk_count

    @property
    def remaining(self) -> int:
        assert self.first.chunk_count is not None
        return self.first.chunk_count - self._expected + 1

    def add(self, frame: Frame) -> None:
        if self.complete:
            raise FrameError("Received a chunk after the message was complete")
        if frame.chunk_count != self.first.chunk_count or frame.chunk_id != self._expected:
            raise FrameError(
                f"Expected chunk {self._expected} of {self.first.chunk_count}, "
                f"got chunk {frame.chunk_id} of {frame.chunk_count}"
            )
        self._size += len(frame.payload)
        if self.max_size is not None and self._size > self.max_size:
            raise FrameError(f"Chunked message exceeds {self.max_size} bytes")
        self._parts.append(frame.payload)
        self._expected += 1

    def payload(self) -> bytes:
        if not self.complete:
            raise FrameError(f"Chunked message incomplete: {self.remaining} chunk(s) missing")
        return b"".join(self._parts)
