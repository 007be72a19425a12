"""The lean per-call Redis path (soa_redis._lane): prepacked commands on transport-owned connections, against a real
redis-server. Each error must surface once, as the right error, and leave the connection fit for the next command."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
import redis
import redis.exceptions as redis_errors

from pysoa.errors import MessageReceiveTimeout, MessageSendError
from soa_redis import RedisReceiveConnectionError
from soa_redis._lane import NOT_YET, Lane, LaneSet
from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

from .helpers import job, packed, raw_request, response, transports
from .servers import RedisProcess

pytestmark = pytest.mark.redis

REQUESTS = "pysoa:service.svc"


def _lane(server: RedisProcess) -> Lane:
    return Lane(redis.connection.Connection(host=server.host, port=server.port))  # type: ignore[no-untyped-call]


def _kill_transport_connections(server: RedisProcess) -> int:
    raw = server.client()
    mine = raw.client_id()
    killed = 0
    for client in raw.client_list():
        if int(client["id"]) != mine:
            raw.client_kill_filter(_id=client["id"])
            killed += 1
    return killed


def test_a_push_sets_the_expiry_and_can_bring_the_redis_clock(redis_server: RedisProcess) -> None:
    lane = _lane(redis_server)
    assert lane.push("q", b"one", 30, with_time=False) == (1, None)
    length, now = lane.push("q", b"two", 30, with_time=True)
    raw = redis_server.client()
    assert length == 2
    assert abs(int(now[0]) - raw.time()[0]) <= 2
    assert raw.lrange("q", 0, -1) == [b"one", b"two"]
    assert 0 < raw.ttl("q") <= 30


def test_a_large_frame_written_in_pieces_arrives_whole(redis_server: RedisProcess) -> None:
    lane = _lane(redis_server)
    frame = bytes(range(256)) * 4096  # 1 MiB, every byte value, beyond the join limit
    assert lane.push("big", frame, 30, with_time=False)[0] == 1
    assert lane.blpop("big", 1.0) == frame


def test_a_push_over_capacity_is_withdrawn_and_the_lane_stays_in_step(redis_server: RedisProcess) -> None:
    lane = _lane(redis_server)
    lane.push("q", b"a", 30, with_time=False)
    length, _ = lane.push("q", b"b", 30, with_time=False)
    assert length == 2
    assert lane.remove_last("q", b"b") == 1
    assert redis_server.client().lrange("q", 0, -1) == [b"a"]
    assert lane.lpop("q") == b"a"
    assert lane.lpop("q") is None


def test_an_error_reply_inside_a_pipelined_push_is_raised_after_all_replies_are_read(
    redis_server: RedisProcess,
) -> None:
    redis_server.client().set("not-a-list", b"x")
    lane = _lane(redis_server)
    with pytest.raises(redis_errors.ResponseError, match="WRONGTYPE"):
        lane.push("not-a-list", b"frame", 30, with_time=True)
    # The EXPIRE and TIME replies were read too: the next command gets its own reply, not a stale one.
    assert lane.push("q", b"frame", 30, with_time=False) == (1, None)
    assert lane.blpop("q", 1.0) == b"frame"


def _tracking_lane(server: RedisProcess) -> Lane:
    """A RESP3 lane tracking the key ``tracked``: a change to it sends the lane's connection a push message."""
    connection = redis.connection.Connection(host=server.host, port=server.port, protocol=3)  # type: ignore[no-untyped-call]
    lane = Lane(connection)
    connection.connect()  # type: ignore[no-untyped-call]
    for command in (("CLIENT", "TRACKING", "ON"), ("GET", "tracked")):
        connection.send_command(*command)  # type: ignore[no-untyped-call]
        connection.read_response()
    return lane


def test_a_resp3_push_message_ahead_of_a_push_reply_is_skipped_and_the_replies_stay_in_step(
    redis_server: RedisProcess,
) -> None:
    lane = _tracking_lane(redis_server)
    redis_server.client().set("tracked", b"changed")  # the invalidation now comes before any reply to the lane
    written: list[bool] = []
    # The direct form (a timeout given) reads the replies from hiredis's reader itself.
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 1.0, lambda: written.append(True), 2.0) == (1, None)
    assert written == [True]
    redis_server.client().rpush("replies", b"reply")
    assert lane.read_blpop(2.0) == b"reply"
    assert lane.lpop("q") == b"one"


def test_a_resp3_push_message_while_a_pop_is_pending_is_skipped(redis_server: RedisProcess) -> None:
    lane = _tracking_lane(redis_server)
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 5.0, lambda: None, 2.0) == (1, None)
    redis_server.client().set("tracked", b"changed")  # sent to the lane while its BLPOP waits
    redis_server.client().rpush("replies", b"reply")
    assert lane.wait_blpop(2.0, time.monotonic() + 2.0) == b"reply"
    assert lane.lpop("q") == b"one"


def test_a_wait_for_a_pending_pop_ends_when_its_time_is_up_and_the_pop_stays_pending(
    redis_server: RedisProcess,
) -> None:
    lane = _lane(redis_server)
    lane.connection.connect()  # the direct form (a timeout given) needs a connected lane
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 5.0, lambda: None, 2.0) == (1, None)
    assert lane.wait_blpop(0.0, time.monotonic() + 1.0) is NOT_YET  # no time at all: only what is there
    assert lane.wait_blpop(0.05, time.monotonic() + 1.0) is NOT_YET
    redis_server.client().rpush("replies", b"reply")
    assert lane.wait_blpop(2.0, time.monotonic() + 2.0) == b"reply"


def test_a_blocking_pop_that_times_out_returns_none(redis_server: RedisProcess) -> None:
    assert _lane(redis_server).blpop("empty", 0.05) is None


def test_a_refused_push_is_one_send_error_and_the_next_send_works(redis_server: RedisProcess) -> None:
    client, _server = transports(redis_server)
    redis_server.client().set(REQUESTS, b"not a list")
    with pytest.raises(MessageSendError, match="WRONGTYPE"):
        client.send_request_message(1, {}, job())
    redis_server.client().delete(REQUESTS)
    client.send_request_message(2, {}, job())
    assert redis_server.client().llen(REQUESTS) == 1  # once: nothing was retried or sent twice


def test_a_connection_redis_closed_while_idle_is_replaced_before_the_next_send(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server)
    client.send_request_message(1, {}, job())
    assert server.receive_request_message().request_id == 1
    assert _kill_transport_connections(redis_server) >= 1
    # Nothing was in flight when Redis closed them: the next send and receive reconnect instead of failing.
    client.send_request_message(2, {}, job())
    assert server.receive_request_message().request_id == 2
    assert redis_server.client().llen(REQUESTS) == 0


def test_a_connection_dropped_during_a_blocking_pop_is_a_receive_error_not_a_retry(
    redis_server: RedisProcess,
) -> None:
    client, server = transports(redis_server)
    errors: list[BaseException] = []

    def receive() -> None:
        try:
            server.receive_request_message()
        except BaseException as exc:
            errors.append(exc)

    waiter = threading.Thread(target=receive)
    waiter.start()
    raw = redis_server.client()
    give_up = time.monotonic() + 10
    while not any(c.get("cmd") == "blpop" and "b" in c.get("flags", "") for c in raw.client_list()):
        assert time.monotonic() < give_up, "the server transport never blocked in BLPOP"
    _kill_transport_connections(redis_server)
    waiter.join(10)
    assert len(errors) == 1
    assert isinstance(errors[0], RedisReceiveConnectionError)
    # The next receive reconnects and gets what is sent now.
    client.send_request_message(7, {}, job())
    assert server.receive_request_message().request_id == 7


def test_lanes_are_reused_and_closed_together(redis_server: RedisProcess) -> None:
    made: list[redis.connection.Connection] = []

    def make() -> redis.connection.Connection:
        made.append(redis.connection.Connection(host=redis_server.host, port=redis_server.port))  # type: ignore[no-untyped-call]
        return made[-1]

    lanes = LaneSet(make)
    first = lanes.take()
    first.lpop("q")
    lanes.give_back(first)
    assert lanes.take() is first  # no new connection per operation
    second = lanes.take()  # the first is in use: another one
    second.lpop("q")
    assert len(made) == 2
    lanes.give_back(second)
    lanes.give_back(first)
    lanes.close()
    assert not any(connection.is_connected for connection in made)


# --- the server's reply push with its next BLPOP in one round trip --------------------------------------------------


def _served(redis_server: RedisProcess, **server_kwargs: Any) -> tuple[RedisClientTransport, RedisServerTransport]:
    """A client and server transport after one request and its reply: the server's next pop is pending."""
    client, server = transports(redis_server, **server_kwargs)
    client.send_request_message(1, {}, job())
    request = server.receive_request_message()
    assert request.meta is not None
    server.send_response_message(request.request_id, request.meta, response())
    assert client.receive_response_message(2).request_id == 1
    return client, server


def _wait_blocked(redis_server: RedisProcess, count: int = 1) -> None:
    raw = redis_server.client()
    give_up = time.monotonic() + 10
    while sum(1 for c in raw.client_list() if "b" in c.get("flags", "")) < count:
        assert time.monotonic() < give_up, "no connection blocked in BLPOP"


def test_the_next_request_is_taken_by_the_pop_written_behind_the_reply(redis_server: RedisProcess) -> None:
    client, server = _served(redis_server)
    _wait_blocked(redis_server)  # the pending pop is waiting before receive_request_message is even called
    client.send_request_message(2, {}, job())
    assert server.receive_request_message().request_id == 2
    assert redis_server.client().llen(REQUESTS) == 0


def test_a_refused_reply_push_is_a_send_error_and_the_pending_pop_still_delivers(redis_server: RedisProcess) -> None:
    client, server = _served(redis_server)
    client.send_request_message(2, {}, job())
    request = server.receive_request_message()
    assert request.meta is not None
    reply_key = "pysoa:" + request.meta["reply_to"]
    redis_server.client().set(reply_key, b"not a list")
    assert request.meta is not None
    with pytest.raises(MessageSendError, match="WRONGTYPE"):
        server.send_response_message(request.request_id, request.meta, response())
    client.send_request_message(3, {}, job())
    assert server.receive_request_message().request_id == 3  # the pop written behind the failed push took it


def test_a_reply_push_over_capacity_is_withdrawn_and_the_pending_pop_still_delivers(redis_server: RedisProcess) -> None:
    client, server = _served(redis_server, queue_capacity=1, queue_full_retries=0)
    # A request whose reply queue nobody waits on (a real client's may have a pop blocked on it).
    reply_to = "service.svc." + "ab" * 16 + "!0123456789ab"
    redis_server.client().rpush(REQUESTS, packed(raw_request(2, reply_to)))
    request = server.receive_request_message()
    reply_key = "pysoa:" + reply_to
    redis_server.client().rpush(reply_key, b"filler")
    assert request.meta is not None
    with pytest.raises(MessageSendError, match="full after 0 retries"):
        server.send_response_message(request.request_id, request.meta, response())
    assert redis_server.client().lrange(reply_key, 0, -1) == [b"filler"]  # taken back: never delivered twice
    client.send_request_message(3, {}, job())
    assert server.receive_request_message().request_id == 3


def test_a_connection_dropped_under_a_pending_pop_is_one_receive_error(redis_server: RedisProcess) -> None:
    client, server = _served(redis_server)
    _wait_blocked(redis_server)
    _kill_transport_connections(redis_server)
    with pytest.raises(RedisReceiveConnectionError):
        server.receive_request_message()
    client.send_request_message(2, {}, job())
    assert server.receive_request_message().request_id == 2


def test_closing_hands_a_request_the_pending_pop_took_back_to_the_queue(redis_server: RedisProcess) -> None:
    client, server = _served(redis_server, receive_timeout_in_seconds=30)
    _wait_blocked(redis_server)
    client.send_request_message(2, {}, job(n=2))
    raw = redis_server.client()
    give_up = time.monotonic() + 10
    while raw.llen(REQUESTS) != 0:  # the pending pop took it
        assert time.monotonic() < give_up
    server.close()
    assert raw.llen(REQUESTS) == 1
    other = RedisServerTransport("svc", url=redis_server.url, receive_timeout_in_seconds=2)
    request = other.receive_request_message()
    assert request.body is not None
    assert (request.request_id, request.body["actions"][0]["body"]) == (2, {"n": 2})


def test_closing_an_idle_pending_pop_does_not_wait_for_its_block(redis_server: RedisProcess) -> None:
    _client, server = _served(redis_server, receive_timeout_in_seconds=5)
    _wait_blocked(redis_server)
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 2.5  # unblocked, not left to run out its 5 s
    assert redis_server.client().llen(REQUESTS) == 0


# --- the client's request push with its first wait for the reply in one round trip ---------------------------------


def test_the_first_wait_for_a_reply_is_written_behind_the_request(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server)
    client.send_request_message(1, {}, job())
    _wait_blocked(redis_server)  # blocked on the reply queue before any receive is called
    request = server.receive_request_message()
    assert request.meta is not None
    server.send_response_message(request.request_id, request.meta, response(n=1))
    assert client.receive_response_message(2).body == response(n=1)


def test_a_receive_ends_at_its_deadline_and_a_later_reply_is_not_lost(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server)
    client.send_request_message(1, {}, job(), 30)  # the pending pop may wait 5 s (the longest block)
    started = time.monotonic()
    with pytest.raises(MessageReceiveTimeout):
        client.receive_response_message(0.3)
    took = time.monotonic() - started
    assert 0.3 <= took < 1.0  # never early, and not the pending pop's 5 s
    request = server.receive_request_message()
    assert request.meta is not None
    server.send_response_message(request.request_id, request.meta, response(n=1))
    assert client.receive_response_message(2).body == response(n=1)  # the pop still pending took it


def test_a_request_refused_for_capacity_leaves_nothing_to_wait_for(redis_server: RedisProcess) -> None:
    client, _server = transports(redis_server, client={"queue_capacity": 1, "queue_full_retries": 0})
    redis_server.client().rpush(REQUESTS, b"filler")
    with pytest.raises(MessageSendError, match="full after 0 retries"):
        client.send_request_message(1, {}, job())
    assert redis_server.client().lrange(REQUESTS, 0, -1) == [b"filler"]  # taken back, not sent
    started = time.monotonic()
    assert client.receive_response_message(2).request_id is None
    assert time.monotonic() - started < 0.5


def test_a_forked_child_never_reads_a_pop_its_parent_left_pending(redis_server: RedisProcess) -> None:
    client, server = transports(redis_server)
    client.send_request_message(1, {}, job(), 30)
    pending = client._state().pending
    assert pending is not None
    assert not pending.inherited
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            inherited = pending.inherited
            # The child's receive drops the parent's pending pop and waits on a connection of its own.
            client.receive_response_message(0.2)
        except MessageReceiveTimeout:
            os.write(write_end, b"1" if inherited and client._state().pending is None else b"0")
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read_end, 1) == b"1"
    # The parent's pending pop is untouched: it still takes the reply.
    request = server.receive_request_message()
    assert request.meta is not None
    server.send_response_message(request.request_id, request.meta, response(n=1))
    assert client.receive_response_message(2).body == response(n=1)
