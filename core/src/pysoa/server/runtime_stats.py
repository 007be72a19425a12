"""Runtime figures of one server process, for the ``status`` action: uptime, jobs, errors, latencies.

The server records every job and action here; the cost per call is a few integer increments and
one insert into a fixed-size histogram (a binary search over 64 bucket bounds), and the memory is
bounded: one 65-slot list per action name, at most :data:`MAX_ACTIONS` names. Percentiles are
read from the histogram, so they are the upper bound of the bucket they fall in (at most 25% above
the true value) and never above the largest latency seen.
"""

from __future__ import annotations

import bisect
import math
import os
import time
from typing import Any

from pysoa.common.types import ActionResponse

__all__ = ["BUCKET_BOUNDS", "MAX_ACTIONS", "ActionLatencies", "RuntimeStats"]

# 0.1 ms to ~2 minutes, each bound 25% above the one before.
BUCKET_BOUNDS: tuple[float, ...] = tuple(0.0001 * 1.25**index for index in range(64))
# Action names beyond this many (callers can send any name) are counted together under OTHER.
MAX_ACTIONS = 256
OTHER = "(other)"
PERCENTILES = (50, 90, 99)


class ActionLatencies:
    """The latency histogram and counts of one action."""

    __slots__ = ("buckets", "count", "errors", "maximum", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKET_BOUNDS) + 1)
        self.count = 0
        self.errors = 0
        self.total = 0.0
        self.maximum = 0.0

    def record(self, seconds: float, failed: bool) -> None:
        self.buckets[bisect.bisect_left(BUCKET_BOUNDS, seconds)] += 1
        self.count += 1
        self.total += seconds
        if seconds > self.maximum:
            self.maximum = seconds
        if failed:
            self.errors += 1

    def percentile(self, percent: float) -> float:
        """The latency (seconds) that ``percent`` % of the calls did not exceed, to the bucket's bound."""
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(self.count * percent / 100))
        seen = 0
        for index, in_bucket in enumerate(self.buckets):
            seen += in_bucket
            if seen >= rank:
                bound = BUCKET_BOUNDS[index] if index < len(BUCKET_BOUNDS) else self.maximum
                return min(bound, self.maximum)
        return self.maximum

    def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = {"count": self.count, "errors": self.errors}
        for percent in PERCENTILES:
            figures[f"p{percent}_ms"] = round(self.percentile(percent) * 1000, 3)
        figures["mean_ms"] = round(self.total / self.count * 1000, 3) if self.count else 0.0
        figures["max_ms"] = round(self.maximum * 1000, 3)
        return figures


class RuntimeStats:
    """What one server process has done since it started."""

    __slots__ = ("actions", "errors", "in_flight", "jobs", "started_at", "started_monotonic")

    def __init__(self) -> None:
        self.started_at = time.time()
        self.started_monotonic = time.monotonic()
        self.jobs = 0
        self.errors = 0
        self.in_flight = 0
        self.actions: dict[str, ActionLatencies] = {}

    def job_started(self) -> None:
        self.in_flight += 1

    def job_finished(self, failed: bool) -> None:
        """A job was answered; ``failed`` when it has job errors or any action has errors."""
        self.in_flight -= 1
        self.jobs += 1
        if failed:
            self.errors += 1

    def action_finished(self, name: str, seconds: float, response: ActionResponse) -> None:
        # A server that records many actions does as this does, with one call less: (actions.get(name) or
        # new_action(name)).record(seconds, failed).
        (self.actions.get(name) or self.new_action(name)).record(seconds, bool(response.errors))

    def new_action(self, name: str) -> ActionLatencies:
        """The figures of action ``name``, seen for the first time (those of OTHER beyond MAX_ACTIONS names)."""
        if len(self.actions) >= MAX_ACTIONS:
            name = OTHER
        return self.actions.setdefault(name, ActionLatencies())

    def figures(self) -> dict[str, Any]:
        """The figures as the ``status`` action reports them (``in_flight`` counts the status job itself)."""
        return {
            "pid": os.getpid(),
            "started_at": self.started_at,
            "uptime_seconds": round(time.monotonic() - self.started_monotonic, 3),
            "jobs": self.jobs,
            "jobs_with_errors": self.errors,
            "in_flight": self.in_flight,
            "actions": {name: latencies.figures() for name, latencies in sorted(self.actions.items())},
        }
