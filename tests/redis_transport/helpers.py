"""Small helpers shared by the Redis transport tests."""

from __future__ import annotations

import json
import re
from typing import Any

import msgpack

from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

from .servers import RedisProcess

V3_MSGPACK = b"pysoa-redis/3//content-type:application/msgpack;"
REPLY_TO = re.compile(r"service\.(?P<service>[^.]+)\.(?P<client>[0-9a-f]{32})!(?P<thread>[0-9a-f]{12,})")


def job(**action_body: Any) -> dict[str, Any]:
    """A minimal job request body with one ``echo`` action."""
    return {
        "control": {"continue_on_error": False},
        "context": {"correlation_id": "abc", "switches": [3]},
        "actions": [{"action": "echo", "body": action_body}],
    }


def response(**action_body: Any) -> dict[str, Any]:
    return {
        "errors": [],
        "context": {"correlation_id": "abc"},
        "actions": [{"action": "echo", "errors": [], "body": action_body}],
    }


def transports(
    server: RedisProcess, service: str = "svc", client: dict[str, Any] | None = None, **server_kwargs: Any
) -> tuple[RedisClientTransport, RedisServerTransport]:
    """A client and a server transport for ``service`` on one private Redis."""
    server_kwargs.setdefault("receive_timeout_in_seconds", 2)
    return (
        RedisClientTransport(service, url=server.url, **(client or {})),
        RedisServerTransport(service, url=server.url, **server_kwargs),
    )


def as_bytes(reply: object) -> bytes:
    """A raw client's reply (redis-py types replies as bytes, str or None) as the bytes it is here."""
    assert isinstance(reply, bytes), f"expected a frame (bytes), got {reply!r}"
    return reply


def decode_raw(reply: object) -> tuple[bytes, dict[str, Any]]:
    """Split a raw frame into its header bytes and envelope, independently of the transport's own code."""
    frame = as_bytes(reply)
    for marker in (b"application/msgpack;", b"application/json;"):
        if marker in frame[:80]:
            head, _, payload = frame.partition(marker)
            head += marker
            break
    else:
        head, payload = b"", frame
    if head.endswith(b"json;"):
        return head, json.loads(payload)
    return head, msgpack.unpackb(payload, raw=False)


def raw_request(request_id: Any = 1, reply_to: Any = None, body: Any = None, **meta: Any) -> dict[str, Any]:
    envelope_meta = dict(meta)
    if reply_to is not None:
        envelope_meta["reply_to"] = reply_to
    return {"request_id": request_id, "meta": envelope_meta, "body": job() if body is None else body}


def packed(envelope: Any, prefix: bytes = V3_MSGPACK) -> bytes:
    packed_envelope: bytes = msgpack.packb(envelope, use_bin_type=True)
    return prefix + packed_envelope
