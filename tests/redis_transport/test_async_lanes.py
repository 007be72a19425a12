"""The async Redis transport's own connections (soa_redis._async_lane), against a real redis-server.

Concurrent pushes share one connection and are matched to their replies in order; a burst of replies is
read in one round trip; a dropped connection or lost script is recovered before anything is written; a
push ends at its deadline, and its late reply goes to nobody else.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from pysoa.common.transport.message import ReplyRoute
from pysoa.errors import MessageSendTimeout
from soa_redis._async import AsyncRedisClientTransport, AsyncRedisServerTransport

from .helpers import job, reply_pushed_while_the_loop_is_busy, request_pushed_while_the_loop_is_busy, response
from .servers import RedisProcess

pytestmark = pytest.mark.redis

SERVICE = "lanes"
REQUEST_QUEUE = f"pysoa:service.{SERVICE}"


def _client(redis_server: RedisProcess) -> AsyncRedisClientTransport:
    return AsyncRedisClientTransport(SERVICE, url=redis_server.url)


def _calls(redis_server: RedisProcess, command: str) -> int:
    stats: dict[str, Any] = redis_server.client().info("commandstats")
    entry = stats.get(f"cmdstat_{command}")
    return 0 if entry is None else int(entry["calls"])


def _connections_last_running(redis_server: RedisProcess, command: str) -> int:
    return sum(1 for entry in redis_server.client().client_list() if entry["cmd"] == command)


def test_concurrent_sends_share_one_connection(redis_server: RedisProcess) -> None:
    async def main() -> int:
        transport = _client(redis_server)
        await asyncio.gather(*(transport.send_request_message(n, {}, {"n": n}, 10) for n in range(100)))
        # Looked at while the transport is open: only connections that ran the push script count.
        pushing = _connections_last_running(redis_server, "evalsha")
        await transport.aclose()
        return pushing

    assert asyncio.run(main()) == 1
    assert redis_server.client().llen(REQUEST_QUEUE) == 100


def test_a_burst_of_replies_is_read_in_one_round_trip_in_queue_order(redis_server: RedisProcess) -> None:
    async def main() -> list[Any]:
        client = _client(redis_server)
        server = AsyncRedisServerTransport(SERVICE, url=redis_server.url)
        route = ReplyRoute(client.reply_to, {})
        for n in range(50):
            await server.send_response_message(route, n, {}, {"n": n})
        redis_server.client().config_resetstat()
        received = [await client.receive_response_message(5) for _ in range(50)]
        await client.aclose()
        await server.aclose()
        return [(message.request_id, message.body) for message in received]

    assert asyncio.run(main()) == [(n, {"n": n}) for n in range(50)]
    assert (_calls(redis_server, "blpop"), _calls(redis_server, "lpop")) == (1, 1)


def test_without_lpop_with_a_count_each_reply_takes_a_pop_of_its_own(redis_server: RedisProcess) -> None:
    """Before Redis 6.2, LPOP takes no count: the drain behind a BLPOP fails, and pops take one reply each."""
    # Stood in for by an ACL user who may not run LPOP at all: Redis refuses the drain the same way, with an error
    # reply after the BLPOP's.
    redis_server.client().acl_setuser("no-lpop", enabled=True, nopass=True, keys=["*"], commands=["+@all", "-lpop"])
    url = redis_server.url.replace("redis://", "redis://no-lpop:x@", 1)

    async def main() -> list[Any]:
        client = AsyncRedisClientTransport(SERVICE, url=url)
        server = AsyncRedisServerTransport(SERVICE, url=redis_server.url)
        route = ReplyRoute(client.reply_to, {})
        for n in range(5):
            await server.send_response_message(route, n, {}, {"n": n})
        redis_server.client().config_resetstat()
        try:
            return [
                (message.request_id, message.body)
                for message in [await client.receive_response_message(5) for _ in range(5)]
            ]
        finally:
            await client.aclose()
            await server.aclose()

    assert asyncio.run(main()) == [(n, {"n": n}) for n in range(5)]
    # One drain tried and refused, then no more tried.
    lpop = redis_server.client().info("commandstats")["cmdstat_lpop"]
    assert (_calls(redis_server, "blpop"), lpop["calls"], lpop["rejected_calls"]) == (5, 0, 1)


def test_a_send_after_redis_dropped_the_idle_connection_goes_out_on_a_new_one(redis_server: RedisProcess) -> None:
    async def main() -> None:
        transport = _client(redis_server)
        await transport.send_request_message(1, {}, {}, 10)
        killed = redis_server.client().client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1
        await transport.send_request_message(2, {}, {}, 10)
        await transport.aclose()

    asyncio.run(main())
    assert redis_server.client().llen(REQUEST_QUEUE) == 2


def test_a_send_after_redis_lost_its_scripts_loads_the_script_again(redis_server: RedisProcess) -> None:
    async def main() -> None:
        transport = _client(redis_server)
        await transport.send_request_message(1, {}, {}, 10)
        redis_server.client().script_flush()
        await transport.send_request_message(2, {}, {}, 10)
        await transport.aclose()

    asyncio.run(main())
    assert redis_server.client().llen(REQUEST_QUEUE) == 2


def test_a_send_redis_does_not_answer_ends_at_its_deadline_and_its_late_reply_goes_to_nobody_else(
    redis_server: RedisProcess,
) -> None:
    async def main() -> float:
        transport = _client(redis_server)
        await transport.send_request_message(1, {}, {}, 10)  # connected and idle
        redis_server.client().client_pause(1000, all=True)
        started = time.monotonic()
        with pytest.raises(MessageSendTimeout):
            await transport.send_request_message(2, {}, {}, 0.3)
        waited = time.monotonic() - started
        # Written on the same connection after the abandoned push: its reply must not be taken for this one's.
        await transport.send_request_message(3, {}, {}, 10)
        await transport.aclose()
        return waited

    waited = asyncio.run(main())
    assert 0.3 <= waited < 0.55
    # The abandoned push ran once Redis resumed (it was written): the transport never writes it twice.
    assert redis_server.client().llen(REQUEST_QUEUE) == 3


def test_a_request_pushed_while_the_servers_loop_is_busy_is_not_lost(redis_server: RedisProcess) -> None:
    assert asyncio.run(request_pushed_while_the_loop_is_busy(SERVICE, {"url": redis_server.url})) == job(n=1)


def test_a_reply_pushed_while_the_clients_loop_is_busy_is_not_lost(redis_server: RedisProcess) -> None:
    assert asyncio.run(reply_pushed_while_the_loop_is_busy(SERVICE, {"url": redis_server.url})) == response(n=1)
