"""The wire format between clients, the router and workers. No I/O.

Every ZeroMQ message starts with one *header* frame::

    b"SZ" | version (1 byte) | kind (1 byte) | expires_at (8-byte big-endian double, wall clock) | content type

The content type (ASCII, e.g. ``application/msgpack``) follows the fixed 12 bytes on requests and
responses; control messages stop after the fixed part. Requests and responses carry one more
frame, the *envelope*: ``{"request_id": ..., "meta": {...}, "body": {...}}`` encoded with the
serializer the content type names. The router only reads headers; it never decodes an envelope.

Frames on each hop (ROUTER sockets add or strip the peer's identity frame themselves)::

    client  -> router   [header(REQUEST), envelope]
    router  -> worker   [client_id, header(REQUEST), envelope]
    worker  -> router   [client_id, header(RESPONSE), envelope]     (also tells the router the worker is idle)
                        [client_id, header(BOUNCE), envelope]       (a request handed back while leaving)
                        [header(READY | HEARTBEAT | DISCONNECT)]
    router  -> worker   [header(BYE)]                               (after DISCONNECT: nothing more will come)
    router  -> client   [header(RESPONSE), envelope]

Worker leases (sync workers behind a router; see the README). A worker that binds a *direct*
ROUTER socket may answer a routed request whose meta asked for it (``LEASE_META_KEY``) with a
lease offer in the response meta: ``[lease_id, direct_endpoint, hold_seconds, lifetime_seconds,
maximum_message_size]`` (a tcp endpoint is announced as ``tcp://*:PORT``: the client uses the host it reached the router
on). The lease ends when unused for the hold time, and at the latest after its lifetime (one
heartbeat interval). The lessee sends its next requests straight to the worker while it lasts::

    worker  -> router   [header(LEASES)]                            (this worker can offer leases)
    router  -> worker   [header(LEASES)]                            (this router understands them)
    worker  -> router   [header(LEASED)]                            (after a response with an offer: not idle)
    router  -> worker   [header(REVOKE)]                            (requests wait and no worker is idle)
    client  -> worker   [header(REQUEST), envelope, lease_id]       (on the direct socket)
    worker  -> client   [header(RESPONSE), envelope]                (the lease goes on)
                        [header(LEASE_ENDED)]                       (the request never ran: resend it
                                                                     through the router)

A worker ends its lease with READY (idle again). Peers that predate leases never see the new
kinds: a client that does not ask gets no offer, and a worker offers only after the router
answered its LEASES (an older router counts it malformed and stays silent).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pysoa.errors import InvalidMessageError

__all__ = [
    "BOUNCE",
    "BYE",
    "DISCONNECT",
    "HEARTBEAT",
    "KIND_NAMES",
    "LEASED",
    "LEASES",
    "LEASE_ENDED",
    "LEASE_ID",
    "LEASE_META_KEY",
    "LOCAL_META_KEYS",
    "READY",
    "REQUEST",
    "RESPONSE",
    "REVOKE",
    "Header",
    "control_header",
    "expires_at_of",
    "parse_header",
    "request_header",
    "response_header",
    "split_request",
    "split_response",
    "wire_meta",
]

MAGIC: Final = b"SZ"
VERSION: Final = 1

REQUEST: Final = 1
RESPONSE: Final = 2
READY: Final = 3
HEARTBEAT: Final = 4
DISCONNECT: Final = 5
BYE: Final = 6
BOUNCE: Final = 7
LEASES: Final = 8
LEASED: Final = 9
REVOKE: Final = 10
LEASE_ENDED: Final = 11
KIND_NAMES: Final = {
    REQUEST: "REQUEST",
    RESPONSE: "RESPONSE",
    READY: "READY",
    HEARTBEAT: "HEARTBEAT",
    DISCONNECT: "DISCONNECT",
    BYE: "BYE",
    BOUNCE: "BOUNCE",
    LEASES: "LEASES",
    LEASED: "LEASED",
    REVOKE: "REVOKE",
    LEASE_ENDED: "LEASE_ENDED",
}

_FIXED = struct.Struct("!2sBBd")
FIXED_SIZE: Final = _FIXED.size
_EXPIRES = struct.Struct("!d")
_MAX_CONTENT_TYPE: Final = 100

# Where a worker keeps a request's return address and content type in ``meta``; never sent back.
REPLY_TO_META_KEY: Final = "__zmq_reply_to__"
CONTENT_TYPE_META_KEY: Final = "__content_type__"
LOCAL_META_KEYS: Final = (REPLY_TO_META_KEY, CONTENT_TYPE_META_KEY)
# In a request's meta: "I take a lease offer" (the worker removes it); in a response's meta: the offer.
LEASE_META_KEY: Final = "__zmq_lease__"
# The lease id frame of a direct request: an unsigned 64-bit big-endian integer.
LEASE_ID = struct.Struct("!Q")


@dataclass(frozen=True, slots=True)
class Header:
    kind: int
    expires_at: float
    content_type: str


def request_header(expires_at: float, content_type: bytes) -> bytes:
    return _FIXED.pack(MAGIC, VERSION, REQUEST, expires_at) + content_type


def response_header(content_type: bytes) -> bytes:
    return _FIXED.pack(MAGIC, VERSION, RESPONSE, 0.0) + content_type


def expires_at_of(header: bytes) -> float:
    """The expiry of a header already known to be well-formed."""
    expires_at: float = _EXPIRES.unpack_from(header, 4)[0]
    return expires_at


def control_header(kind: int) -> bytes:
    return _FIXED.pack(MAGIC, VERSION, kind, 0.0)


def parse_header(frame: bytes) -> Header:
    """Read a header frame. Raises :class:`InvalidMessageError` if it is not one of ours."""
    if len(frame) < FIXED_SIZE or len(frame) > FIXED_SIZE + _MAX_CONTENT_TYPE:
        raise InvalidMessageError(f"Not a soa-zmq header ({len(frame)} bytes)")
    magic, version, kind, expires_at = _FIXED.unpack_from(frame)
    if magic != MAGIC:
        raise InvalidMessageError("Not a soa-zmq header (bad magic)")
    if version != VERSION:
        raise InvalidMessageError(f"Unsupported soa-zmq protocol version {version}")
    if kind not in KIND_NAMES:
        raise InvalidMessageError(f"Unknown soa-zmq message kind {kind}")
    try:
        content_type = frame[FIXED_SIZE:].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidMessageError("The content type is not ASCII") from None
    return Header(kind, expires_at, content_type)


def wire_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``meta`` without the keys a worker keeps for itself."""
    # A C-level copy and two pops: cheaper than filtering every key in Python.
    wire = dict(meta)
    wire.pop(REPLY_TO_META_KEY, None)
    wire.pop(CONTENT_TYPE_META_KEY, None)
    return wire


def split_request(message: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """``(request_id, meta, body)`` of a decoded request envelope.

    Raises :class:`InvalidMessageError`; its ``request_id`` and ``meta`` are set when the request
    names its id, so the server can still answer with a job error.
    """
    if not isinstance(message, dict):
        raise InvalidMessageError(f"Request is not a map but {type(message).__name__}")
    request_id = message.get("request_id")
    if request_id is None:
        raise InvalidMessageError("Request has no request_id")
    meta = message.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise InvalidMessageError(
            f"Request meta is not a map but {type(meta).__name__}", request_id=request_id, meta={}
        )
    body = message.get("body")
    if not isinstance(body, dict):
        raise InvalidMessageError(
            f"Request body is not a map but {type(body).__name__}", request_id=request_id, meta=meta
        )
    return request_id, meta, body


def split_response(message: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """``(request_id, meta, body)`` of a decoded response envelope. Raises :class:`InvalidMessageError`."""
    if not isinstance(message, dict):
        raise InvalidMessageError(f"Response is not a map but {type(message).__name__}")
    request_id = message.get("request_id")
    if request_id is None:
        raise InvalidMessageError("Response has no request_id")
    try:
        hash(request_id)
    except TypeError:
        raise InvalidMessageError(f"Response request_id is a {type(request_id).__name__}") from None
    meta = message.get("meta")
    body = message.get("body")
    if not isinstance(body, dict):
        raise InvalidMessageError(f"Response body is not a map but {type(body).__name__}", request_id=request_id)
    return request_id, meta if isinstance(meta, dict) else {}, body
