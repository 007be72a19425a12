"""Backoff for full queues and Sentinel failover, always inside the caller's deadline. No I/O."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Final

__all__ = ["LAST_ATTEMPT_SECONDS", "backoff_delay", "next_delay"]

# Time kept back for the final attempt itself when a backoff is cut short by the deadline.
LAST_ATTEMPT_SECONDS: Final = 0.05


def backoff_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """PySOA's backoff before retry ``attempt + 1``: ``(2**attempt + random()) / 4`` seconds."""
    return (float(2 ** min(attempt, 30)) + rand()) / 4


def next_delay(
    attempt: int, max_retries: int, remaining: float, rand: Callable[[], float] = random.random
) -> float | None:
    """How long to wait before retrying after ``attempt + 1`` failed attempts, or ``None`` to give up.

    Gives up when the retries are used up or no further attempt fits before the deadline
    (``remaining`` seconds away). A backoff longer than the time left is shortened so one last
    attempt still happens just before the deadline: a send never outlives its call.
    """
    if attempt >= max_retries:
        return None
    budget = remaining - LAST_ATTEMPT_SECONDS
    if budget <= 0:
        return None
    return min(backoff_delay(attempt, rand), budget)
