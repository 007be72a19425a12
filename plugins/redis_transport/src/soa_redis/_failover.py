"""Waiting for a new Sentinel master: PySOA's backoff as the budget, but asking the Sentinels often.

While a failover is in progress the Sentinels report no master (redis-py's ``MasterNotFoundError``),
and nothing was sent yet, so asking again is always safe. PySOA waited ``(2**i + random()) / 4``
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

from soa_redis._retry import next_delay

__all__ = ["POLL_SECONDS", "FailoverWait"]

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
