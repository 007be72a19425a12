"""Loud but bounded: warnings about bad input that a peer (or an attacker) can repeat at will.

A flood of garbage must not become a flood of log lines. :class:`RateLimitedLogger` logs the first
few occurrences in each window, counts the rest, and reports how many it held back in its next line.
Each line is also cut to a bounded length, since the text often quotes the bad input.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["RateLimitedLogger"]


class RateLimitedLogger:
    """At most ``burst`` lines per ``window_seconds`` through ``logger``; each at most ``max_chars`` long.

    One instance per kind of event (several kinds sharing one would hide each other). Thread-safe.
    """

    def __init__(
        self,
        logger: logging.Logger,
        burst: int = 10,
        window_seconds: float = 60.0,
        max_chars: int = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.window_seconds = window_seconds
        self.max_chars = max_chars
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = float("-inf")
        self._logged = 0
        self._suppressed = 0

    def log(self, level: int, message: str, *args: Any) -> None:
        with self._lock:
            now = self._clock()
            if now - self._window_start >= self.window_seconds:
                self._window_start, self._logged = now, 0
            if self._logged >= self.burst:
                self._suppressed += 1
                return
            self._logged += 1
            suppressed, self._suppressed = self._suppressed, 0
        text = message % args if args else message
        if len(text) > self.max_chars:
            text = f"{text[: self.max_chars]}... ({len(text)} characters)"
        if suppressed:
            text += f" [{suppressed} more like this not logged]"
        self.logger.log(level, "%s", text)

    def warning(self, message: str, *args: Any) -> None:
        self.log(logging.WARNING, message, *args)

    def error(self, message: str, *args: Any) -> None:
        self.log(logging.ERROR, message, *args)
