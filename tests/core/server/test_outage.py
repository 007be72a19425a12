"""A worker's transport outage: capped jittered retries, one log line at each end, a give-up setting."""

from __future__ import annotations

import logging

import pytest

from pysoa.server._outage import OUTAGE_BACKOFF_CAP_SECONDS, TransportOutage
from pysoa.server.settings import ServerSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_retries_back_off_with_jitter_up_to_the_cap_and_never_give_up_by_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    outage = TransportOutage(logging.getLogger("outage-test"), None, clock=clock, rand=lambda: 1.0)
    delays = []
    with caplog.at_level(logging.WARNING, "outage-test"):
        for _ in range(200):  # far more than the 16 s PySOA-style give-up
            delay = outage.failed(ConnectionError("Redis is down"))
            assert delay is not None
            delays.append(delay)
            clock.now += delay
    assert delays[0] < delays[3]  # grows ...
    assert max(delays) == pytest.approx(OUTAGE_BACKOFF_CAP_SECONDS)  # ... up to the cap
    assert outage.ongoing
    assert [r.getMessage() for r in caplog.records] == ["Transport outage: Redis is down; retrying until it is back"]

    outage.recovered()
    outage.recovered()
    assert not outage.ongoing
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage().startswith("Transport outage over after ")


def test_jitter_spreads_the_retries_of_workers_that_failed_together() -> None:
    low = TransportOutage(logging.getLogger("x"), None, clock=Clock(), rand=lambda: 0.0)
    high = TransportOutage(logging.getLogger("x"), None, clock=Clock(), rand=lambda: 1.0)
    for _ in range(20):
        a, b = low.failed(OSError()), high.failed(OSError())
        assert a is not None
        assert b is not None
        assert a < b


def test_with_a_give_up_setting_the_worker_gives_up_once_that_long_has_failed(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = TransportOutage(logging.getLogger("outage-test"), 5.0, clock=clock, rand=lambda: 0.5)
    with caplog.at_level(logging.WARNING, "outage-test"):
        while (delay := outage.failed(OSError("down"))) is not None:
            clock.now += delay
    assert 5.0 <= clock.now - 100.0 < 5.0 + OUTAGE_BACKOFF_CAP_SECONDS
    assert "giving up (transport_outage_give_up_after_seconds=5.0)" in caplog.records[-1].getMessage()

    # A new outage after a recovery gets the whole allowance again.
    outage.recovered()
    assert outage.failed(OSError("down again")) is not None


def test_the_give_up_setting_defaults_to_never_and_must_be_positive() -> None:
    base = {"transport": "local"}
    assert ServerSettings(base)["transport_outage_give_up_after_seconds"] is None
    assert (
        ServerSettings({**base, "transport_outage_give_up_after_seconds": 30})["transport_outage_give_up_after_seconds"]
        == 30
    )
    with pytest.raises(ValueError, match="transport_outage_give_up_after_seconds"):
        ServerSettings({**base, "transport_outage_give_up_after_seconds": 0})
