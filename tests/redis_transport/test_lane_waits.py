"""The lane's direct I/O on its non-blocking socket (soa_redis._lane), against a real redis-server: sends that fill the
send buffer, replies that come in many pieces, waits that are woken early or interrupted, and an idle connection Redis
closed. Every wait must end at its deadline, never before it."""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from typing import Any

import pytest
import redis
import redis.exceptions as redis_errors

from soa_redis._lane import NOT_YET, Lane

from .servers import RedisProcess, TLSFiles

pytestmark = pytest.mark.redis

BIG = bytes(range(256)) * 4096  # 1 MiB, every byte value: beyond the join limit, written in pieces


def _connected_lane(server: RedisProcess) -> Lane:
    lane = Lane(redis.connection.Connection(host=server.host, port=server.port))  # type: ignore[no-untyped-call]
    lane.connection.connect()
    return lane


def _small_send_buffer(lane: Lane) -> None:
    # The kernel doubles it and keeps a floor of a few KiB: a 1 MiB frame needs many sends and waits.
    lane.connection._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


def test_a_large_frame_through_a_small_send_buffer_arrives_whole(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    _small_send_buffer(lane)
    written: list[bool] = []
    assert lane.push_then_blpop("big", BIG, 30, False, "replies", 1.0, lambda: written.append(True), 10.0) == (1, None)
    assert written == [True]
    redis_server.client().rpush("replies", b"reply")
    assert lane.read_blpop(5.0) == b"reply"
    assert redis_server.client().lpop("big") == BIG


def test_a_send_redis_does_not_read_fails_at_its_deadline_not_before(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    _small_send_buffer(lane)
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(redis_errors.TimeoutError, match="writing"):
            lane.push_then_blpop("big", BIG, 30, False, "replies", 1.0, lambda: None, 0.3)
        assert time.monotonic() - started >= 0.3  # never early
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    assert lane.connection._sock is None  # half-written: the connection is void, as redis-py leaves it


def test_replies_that_come_in_many_small_reads_are_read_whole(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    lane._buffer = bytearray(7)  # every recv gets at most 7 bytes of a reply
    element = b"e" * 1000
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 1.0, lambda: None, 2.0) == (1, None)
    redis_server.client().rpush("replies", element)
    assert lane.wait_blpop(2.0, time.monotonic() + 2.0) == element
    assert lane.push_then_blpop("q", b"two", 30, False, "replies", 1.0, lambda: None, 2.0) == (2, None)
    redis_server.client().rpush("replies", element)
    assert lane.read_blpop(2.0) == element
    assert lane.lpop("q") == b"one"  # redis-py's own path after the direct one: still in step


def test_an_idle_connection_redis_closed_is_found_before_anything_is_sent(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    assert lane.ready()
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 0.01, lambda: None, 2.0) == (1, None)
    assert lane.read_blpop(2.0) is None
    raw = redis_server.client()
    local = lane.connection._sock.getsockname()
    raw.client_kill(f"{local[0]}:{local[1]}")
    # The close reaches the socket shortly after Redis closed it.
    give_up = time.monotonic() + 5
    while not select.select((lane.connection._sock,), (), (), 0.05)[0]:
        assert time.monotonic() < give_up, "the close never arrived"
    assert not lane.ready()
    assert lane.connection._sock is None  # closed, not written on
    assert raw.llen("q") == 1


class _EarlyPoll:
    """A poll object that wakes up at once with nothing to report, the first ``early`` times."""

    def __init__(self, real: Any, early: int) -> None:
        self._real = real
        self.early = early

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        if self.early > 0:
            self.early -= 1
            return []
        return self._real.poll(timeout)  # type: ignore[no-any-return]

    def modify(self, fd: int, events: int) -> None:
        self._real.modify(fd, events)


def test_a_wait_woken_early_with_nothing_to_read_goes_on_until_its_time_is_up(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 5.0, lambda: None, 2.0) == (1, None)
    early = _EarlyPoll(lane._poll, early=3)
    lane._poll = early  # type: ignore[assignment]  # a stand-in for select.poll
    started = time.monotonic()
    assert lane.wait_blpop(0.2, started + 1.0) is NOT_YET
    assert time.monotonic() - started >= 0.2  # never early
    assert early.early == 0  # it was woken early, and waited on
    redis_server.client().rpush("replies", b"reply")
    early.early = 3
    assert lane.read_blpop(2.0) == b"reply"


def test_a_wait_interrupted_by_signals_ends_neither_early_nor_without_its_reply(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 5.0, lambda: None, 2.0) == (1, None)
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, _frame: interrupted.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    try:
        started = time.monotonic()
        assert lane.wait_blpop(0.3, started + 1.0) is NOT_YET
        assert time.monotonic() - started >= 0.3  # never early
        assert len(interrupted) >= 2
        redis_server.client().rpush("replies", b"reply")
        assert lane.read_blpop(2.0) == b"reply"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_read_redis_does_not_answer_fails_at_its_deadline_not_before(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    os.kill(redis_server.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(redis_errors.TimeoutError, match="reading"):
            lane.push_then_blpop("q", b"one", 30, False, "replies", 1.0, lambda: None, 0.2)
        assert time.monotonic() - started >= 0.2  # never early
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
    assert lane.connection._sock is None


def test_a_tls_lane_sends_a_large_frame_through_a_small_buffer_and_reads_split_replies(
    tls_redis: RedisProcess, tls_files: TLSFiles
) -> None:
    connection = redis.connection.SSLConnection(
        host=tls_redis.host, port=tls_redis.port, ssl_ca_certs=str(tls_files.ca_cert)
    )
    lane = Lane(connection)
    connection.connect()  # type: ignore[no-untyped-call]
    _small_send_buffer(lane)
    assert lane.push_then_blpop("big", BIG, 30, False, "replies", 5.0, lambda: None, 10.0) == (1, None)
    lane._buffer = bytearray(7)  # decrypted bytes left in the TLS socket must be read without waiting for more
    element = b"e" * 1000
    tls_redis.client().rpush("replies", element)
    assert lane.wait_blpop(2.0, time.monotonic() + 2.0) == element
    assert lane.push_then_blpop("big", b"small", 30, False, "replies", 0.01, lambda: None, 2.0) == (2, None)
    assert lane.read_blpop(2.0) is None
    assert lane.lpop("big") == BIG


# --- read_blpop_by: a server's read of its pending pop ------------------------------------------------------------


def test_read_blpop_by_reads_a_reply_that_comes_in_many_small_reads(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    lane._buffer = bytearray(7)
    element = b"e" * 1000
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 2.0, lambda: None, 2.0) == (1, None)
    redis_server.client().rpush("replies", element)
    assert lane.read_blpop_by(time.monotonic() + 2.0) == element
    assert lane.lpop("q") == b"one"  # still in step


def test_read_blpop_by_returns_none_when_the_pop_times_out(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 0.05, lambda: None, 2.0) == (1, None)
    assert lane.read_blpop_by(time.monotonic() + 2.0) is None
    assert lane.connection._sock is not None  # the connection is fine, and usable again
    assert lane.lpop("q") == b"one"


def test_read_blpop_by_gives_up_at_its_deadline_not_before(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 5.0, lambda: None, 2.0) == (1, None)
    started = time.monotonic()
    with pytest.raises(redis_errors.TimeoutError, match="reading"):
        lane.read_blpop_by(started + 0.3)  # Redis would answer only after 5 s
    assert time.monotonic() - started >= 0.3  # never early
    assert lane.connection._sock is None  # a reply half-way: the connection is void


def test_read_blpop_by_waits_at_least_the_shortest_socket_time_when_its_deadline_has_passed(
    redis_server: RedisProcess,
) -> None:
    lane = _connected_lane(redis_server)
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 5.0, lambda: None, 2.0) == (1, None)
    redis_server.client().rpush("replies", b"reply")
    # As read_blpop(socket_seconds(...)) would: a passed deadline still gets the shortest socket time, enough for a
    # reply that is there to be read.
    assert lane.read_blpop_by(time.monotonic() - 1.0) == b"reply"


def test_read_blpop_by_raises_an_error_reply_and_stays_usable(redis_server: RedisProcess) -> None:
    lane = _connected_lane(redis_server)
    redis_server.client().set("not-a-list", b"x")
    assert lane.push_then_blpop("q", b"one", 30, False, "not-a-list", 1.0, lambda: None, 2.0) == (1, None)
    with pytest.raises(redis_errors.ResponseError, match="WRONGTYPE"):
        lane.read_blpop_by(time.monotonic() + 2.0)
    assert lane.lpop("q") == b"one"


def test_read_blpop_by_without_hiredis_takes_redis_pys_reader(redis_server: RedisProcess) -> None:
    pure_python = redis._parsers.resp2._RESP2Parser
    connection = redis.connection.Connection(host=redis_server.host, port=redis_server.port, parser_class=pure_python)  # type: ignore[no-untyped-call]
    lane = Lane(connection)
    lane.connection.connect()
    assert not lane._direct
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 2.0, lambda: None, 2.0) == (1, None)
    redis_server.client().rpush("replies", b"reply")
    assert lane.read_blpop_by(time.monotonic() + 2.0) == b"reply"


def test_read_blpop_by_is_bounded_by_the_connections_socket_timeout(redis_server: RedisProcess) -> None:
    lane = Lane(redis.connection.Connection(host=redis_server.host, port=redis_server.port, socket_timeout=0.3))  # type: ignore[no-untyped-call]
    lane.connection.connect()
    assert lane.timeout_limit == 0.3
    assert lane.push_then_blpop("q", b"one", 30, False, "replies", 5.0, lambda: None, 2.0) == (1, None)
    started = time.monotonic()
    with pytest.raises(redis_errors.TimeoutError, match="reading"):
        lane.read_blpop_by(started + 5.0)  # Redis answers after 5 s; the connection allows 0.3 s per read
    waited = time.monotonic() - started
    assert 0.3 <= waited < 3.0
