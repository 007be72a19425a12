"""Small helpers shared by the Redis transport tests."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgpack
import pytest

from pysoa.errors import MessageReceiveTimeout
from soa_redis._async import AsyncRedisClientTransport, AsyncRedisServerTransport
from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

from .servers import RedisProcess

T = TypeVar("T")

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


async def async_round_trip(client: AsyncRedisClientTransport, server: AsyncRedisServerTransport, number: int) -> Any:
    """One request from ``client`` answered by ``server``: the response body."""
    await client.send_request_message(number, {}, job(n=number))
    incoming = await server.receive_request_message()
    assert incoming.request_id == number
    await server.send_response_message(incoming.route, incoming.request_id, incoming.meta, response(n=number))
    return (await client.receive_response_message(2)).body


async def receives_surviving_cancellation(service: str, settings: dict[str, Any], most_steps: int = 40) -> list[int]:
    """Cancel a server's receive after 0 .. ``most_steps - 1`` turns of the event loop in turn: the numbers of
    turns after which the receive did not end cancelled (it should end cancelled every time, also when the
    cancellation lands as redis-py's write of ``BLPOP`` completes, where Python 3.11's ``asyncio.wait_for``
    drops it)."""
    server = AsyncRedisServerTransport(service, receive_timeout_in_seconds=1, **settings)
    client = AsyncRedisClientTransport(service, **settings)
    survived: list[int] = []
    try:
        # Warm up: the connections are open (and a cluster's slot map read), so each receive takes the same steps.
        assert await async_round_trip(client, server, 0) == response(n=0)
        for steps in range(most_steps):
            receiving = asyncio.create_task(server.receive_request_message())
            for _ in range(steps):
                await asyncio.sleep(0)
            receiving.cancel()
            try:
                await receiving
            except asyncio.CancelledError:
                continue
            except MessageReceiveTimeout:
                pass
            survived.append(steps)
    finally:
        await client.aclose()
        await server.aclose()
    return survived


# A pending BLPOP is handed its element by Redis at once; an event loop busy with other work reads that answer
# late, past the pop's block. A pop given up on then would drop its connection, and the message with it.
_BLOCK_SECONDS = 0.3
_BUSY_PAST_THE_BLOCK_SECONDS = 0.6


def _busy_loop_after(seconds: float, work: Callable[[], object]) -> None:
    """In ``seconds``: run ``work`` on the running event loop, then keep the loop busy past a pop's block."""

    def run() -> None:
        work()
        time.sleep(_BUSY_PAST_THE_BLOCK_SECONDS)

    asyncio.get_running_loop().call_later(seconds, run)


async def _received_now_or_next(receive: Callable[[], Awaitable[T]]) -> T:
    """What ``receive`` returns, asking once more if it timed out: a message that came after a pop's block
    ended (a slow machine) waits in its queue for the next pop."""
    try:
        return await receive()
    except MessageReceiveTimeout:
        return await receive()


async def request_pushed_while_the_loop_is_busy(service: str, settings: dict[str, Any]) -> Any:
    """The body of the request an async server receives when it is pushed during a pop its busy loop reads late."""
    sender = RedisClientTransport(service, **settings)
    server = AsyncRedisServerTransport(service, receive_timeout_in_seconds=_BLOCK_SECONDS, **settings)
    try:
        with pytest.raises(MessageReceiveTimeout):
            await server.receive_request_message()  # connected (and a cluster's slot map read) before the pop
        _busy_loop_after(0.1, lambda: sender.send_request_message(1, {}, job(n=1)))
        return (await _received_now_or_next(server.receive_request_message)).body
    finally:
        await server.aclose()
        sender.close()


async def reply_pushed_while_the_loop_is_busy(service: str, settings: dict[str, Any]) -> Any:
    """The body of the reply an async client receives when it is pushed during a pop its busy loop reads late."""
    server = RedisServerTransport(service, receive_timeout_in_seconds=5, **settings)
    client = AsyncRedisClientTransport(service, **settings)
    try:
        await client.send_request_message(1, {}, job(n=1))
        request_id, meta, _body = server.receive_request_message()
        assert meta is not None
        with pytest.raises(MessageReceiveTimeout):
            await client.receive_response_message(_BLOCK_SECONDS)  # connected before the pop

        def reply() -> None:
            server.send_response_message(request_id, meta, response(n=1))

        _busy_loop_after(0.1, reply)
        return (await _received_now_or_next(lambda: client.receive_response_message(_BLOCK_SECONDS))).body
    finally:
        await client.aclose()
        server.close()
