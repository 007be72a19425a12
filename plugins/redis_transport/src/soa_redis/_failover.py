"""Waiting for a new Sentinel master: PySOA's backoff as the budget, but asking the Sentinels often.

While a failover is in progress the dead master's port refuses connections (until the Sentinels
agree it is down) and then the Sentinels report no master (redis-py's ``MasterNotFoundError``),
until they switch to a promoted replica. Either way nothing was sent, so asking again is always
safe. PySOA only waited on "no master": a caller that met the refusal failed at once, and a
worker then backed off for up to seconds, past the switch. PySOA waited ``(2**i + random()) / 4``
seconds between its ``failover_retries`` attempts: 0.25, 0.5, 1, 2, ... seconds. Sleeping through
those, a caller noticed the new master up to two seconds after the Sentinels switched to it. Here
the same schedule only bounds the *total* wait (so ``failover_retries`` keeps its meaning: how long
to ride out a failover), and the Sentinels are asked every :data:`POLL_SECONDS` within it, so calls
resume within a poll of the switch. No I/O here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

import redis.exceptions as redis_errors
from redis.sentinel import MasterNotFoundError

from soa_redis._retry import next_delay

__all__ = ["POLL_SECONDS", "FailoverWait", "awaits_new_master"]

# A Sentinel answers in well under a millisecond on a LAN; asking ten times a second costs nothing.
POLL_SECONDS: Final = 0.1


class FailoverWait:
    """The pauses of one caller waiting for a master, never past ``deadline`` (monotonic seconds)."""

    def __init__(self, max_retries: int, deadline: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_retries = max_retries
        self._deadline = deadline
        self._clock = clock
        self._retries = 0
        self._budget_ends: float | None = None

    def next_pause(self) -> float | None:
        """Seconds to wait before asking again after "no master", or ``None`` to give up."""
        now = self._clock()
        if self._budget_ends is None or now >= self._budget_ends:
            # The current backoff period is over (or none started): start the next, if any is left.
            delay = next_delay(self._retries, self._max_retries, self._deadline - now)
            if delay is None:
                return None
            self._retries += 1
            self._budget_ends = now + delay
        return min(POLL_SECONDS, self._budget_ends - now)


def awaits_new_master(error: BaseException, sentinel: bool) -> bool:
    """Whether ``error`` means "wait for the Sentinels to name a master" (only with ``sentinel``).

    True for "no master found", and for a master whose port refused the connection: refused at
    connect time, before anything was sent. Other connection failures (lost mid-command, timed
    out) may have happened after a send, so they are reported, never retried.
    """
    if not sentinel:
        return False
    if isinstance(error, MasterNotFoundError):
        return True
    if not isinstance(error, redis_errors.ConnectionError):
        return False
    cause: BaseException | None = error.__cause__
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__
    return False
