"""RateLimitedLogger: a bounded sample of a flood, with the count of what it held back."""

from __future__ import annotations

import logging

import pytest

from pysoa.common.log_limit import RateLimitedLogger


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_logs_a_burst_per_window_then_reports_what_it_held_back(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limited = RateLimitedLogger(logging.getLogger("limit-test"), burst=3, window_seconds=10, clock=clock)
    with caplog.at_level(logging.WARNING, "limit-test"):
        for number in range(10_000):
            limited.warning("garbage %d", number)
        assert [r.getMessage() for r in caplog.records] == ["garbage 0", "garbage 1", "garbage 2"]
        clock.now = 10.0
        limited.warning("garbage %d", 10_000)
    assert caplog.records[-1].getMessage() == "garbage 10000 [9997 more like this not logged]"
    assert len(caplog.records) == 4


def test_a_long_message_is_cut(caplog: pytest.LogCaptureFixture) -> None:
    limited = RateLimitedLogger(logging.getLogger("limit-test"), max_chars=20)
    with caplog.at_level(logging.WARNING, "limit-test"):
        limited.error("bad input: %s", "x" * 5000)
    assert caplog.records[0].getMessage() == f"bad input: {'x' * 9}... (5011 characters)"
    assert caplog.records[0].levelno == logging.ERROR
