"""Waiting out a Sentinel failover: PySOA's backoff bounds the total wait, the Sentinels are asked every 0.1 s."""

from __future__ import annotations

import pytest
import redis.exceptions as redis_errors
from redis.sentinel import MasterNotFoundError

from soa_redis._failover import POLL_SECONDS, FailoverWait, awaits_new_master
from soa_redis._retry import LAST_ATTEMPT_SECONDS


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _pauses(wait: FailoverWait, clock: FakeClock) -> list[float]:
    """Every pause until the wait gives up, advancing the fake clock as a caller's sleep would."""
    pauses = []
    while (pause := wait.next_pause()) is not None:
        assert pause > 0
        pauses.append(pause)
        clock.now += pause
        assert len(pauses) < 10_000
    return pauses


def test_no_pause_is_longer_than_a_poll() -> None:
    # The old schedule slept 0.25, 0.5, 1 and 2 s at a time: a master named during a 2 s sleep was
    # noticed up to 2 s late. Now the longest gap between two questions to the Sentinels is one poll.
    clock = FakeClock()
    pauses = _pauses(FailoverWait(4, deadline=clock.now + 60, clock=clock), clock)
    assert max(pauses) <= POLL_SECONDS == 0.1
    # The total is still PySOA's backoff for 4 retries, (2**i + random()) / 4 for i = 0..3.
    assert (1 + 2 + 4 + 8) / 4 <= sum(pauses) <= (1 + 2 + 4 + 8 + 4) / 4


def test_no_retries_means_no_wait() -> None:
    clock = FakeClock()
    assert FailoverWait(0, deadline=clock.now + 60, clock=clock).next_pause() is None


def test_the_wait_ends_before_the_deadline() -> None:
    clock = FakeClock()
    start = clock.now
    pauses = _pauses(FailoverWait(30, deadline=start + 1.0, clock=clock), clock)
    # Time is kept back for the last attempt itself: the call never outlives its deadline.
    assert sum(pauses) == pytest.approx(1.0 - LAST_ATTEMPT_SECONDS)


def _connect_refused() -> redis_errors.ConnectionError:
    # What redis-py raises when the port refuses: its ConnectionError, caused by the OS error.
    error = redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return error


@pytest.mark.parametrize(
    ("error", "waits"),
    [
        (MasterNotFoundError("No master found for 'soa-master'"), True),
        (_connect_refused(), True),  # the master died; the Sentinels have not noticed yet
        # Lost or stalled mid-command: a push may have happened, so these are never retried.
        (redis_errors.ConnectionError("Connection closed by server."), False),
        (redis_errors.TimeoutError("Timeout reading from socket"), False),
        (redis_errors.ResponseError("NOPERM this user has no permissions"), False),
    ],
)
def test_which_errors_wait_for_a_new_master(error: Exception, waits: bool) -> None:
    assert awaits_new_master(error, sentinel=True) is waits
    assert awaits_new_master(error, sentinel=False) is False  # standard hosts have no failover to wait for
