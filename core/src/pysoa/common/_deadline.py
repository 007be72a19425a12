"""Deadlines that travel with a job request (see docs/deadlines.md).

On the wire a job's deadline rides in its ``control`` header, which PySOA 1.4 servers validate with
extra keys allowed (they ignore it): ``control.deadline`` is the instant the caller stops waiting,
in Unix seconds on the sender's wall clock, and ``control.timeout`` (which PySOA clients send too)
is the caller's budget in seconds at the moment of sending. Within a process a deadline is a
``time.monotonic()`` instant, so that local clock changes cannot move it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["CALL_MARGIN_SECONDS", "DEADLINE_CONTROL_KEY", "TIMEOUT_CONTROL_KEY", "job_deadline"]

DEADLINE_CONTROL_KEY: Final = "deadline"
TIMEOUT_CONTROL_KEY: Final = "timeout"

# Kept back from the time left when an action calls another service: the reply still has to travel
# back and the calling action has to finish its own response before the caller stops waiting.
CALL_MARGIN_SECONDS: Final = 0.1


def _seconds(value: Any) -> float | None:
    """``value`` as a finite number of seconds, or ``None`` for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def job_deadline(control: Mapping[str, Any], now_monotonic: float, now_wall: float) -> float | None:
    """The job's deadline on the ``time.monotonic()`` clock, or ``None`` when the request sets none.

    The time left is the smaller of two estimates: the absolute deadline compared with this host's
    wall clock (right when clocks agree, and it counts the time the request waited in a queue), and
    the relative budget the caller sent (never too long whatever the skew, as waiting in a queue
    only uses budget up). So a receiving clock that runs behind cannot lengthen a deadline; one that
    runs ahead shortens it by the skew. A missing, zero or negative ``timeout`` means "none" (as in
    PySOA); values that are not finite numbers are ignored.
    """
    budget = _seconds(control.get(TIMEOUT_CONTROL_KEY))
    if budget is not None and budget <= 0:
        budget = None
    deadline = _seconds(control.get(DEADLINE_CONTROL_KEY))
    if deadline is not None:
        by_clock = deadline - now_wall
        budget = by_clock if budget is None else min(budget, by_clock)
    return None if budget is None else now_monotonic + budget
