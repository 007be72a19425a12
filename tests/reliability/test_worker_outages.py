"""Workers ride out Redis outages: they retry, log the outage once, obey SIGTERM, and serve again soon after."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pysoa.errors import TransientTransportError
from tests.redis_transport.servers import RedisProcess, start_redis

from .conftest import LATE, Worker, redis_client, timed, wait_for, wait_until_served
from .service import SERVICE

pytestmark = pytest.mark.redis

# Short receives, as the runtime tests use: a stalled Redis is noticed within about 2 s.
WORKER_TRANSPORT = {"receive_timeout_in_seconds": 1}


@pytest.mark.slow
def test_a_worker_survives_redis_being_killed_and_serves_within_a_second_of_its_return(
    redis_server: RedisProcess, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    worker = start_worker({"url": redis_server.url, **WORKER_TRANSPORT})
    client = redis_client({"url": redis_server.url})
    wait_until_served(client, worker)

    redis_server.kill()
    wait_for(lambda: "Transport outage:" in worker.log(), 10, lambda: f"the outage to be logged:\n{worker.log()}")
    # Calls during the outage fail with a retry-safe error, and no later than their deadline.
    took, _, error = timed(lambda: client.call_action(SERVICE, "echo", {}, timeout=1))
    assert isinstance(error, TransientTransportError), error
    assert took <= 1 + LATE
    time.sleep(6)  # an outage long enough that retries reach their cap (the old worker gave up after ~16 s)
    assert worker.alive, worker.log()

    restarted = start_redis(tmp_path / "redis-again", port=redis_server.port)
    try:
        back = time.monotonic()
        wait_until_served(client, worker, timeout=10)
        # A retry is at most 1 s away, plus the call's own round trips on a busy machine.
        assert time.monotonic() - back <= 1.0 + 1.0, worker.log()
        assert client.call_action(SERVICE, "echo", {"n": 5}, timeout=5).body["n"] == 5

        log = worker.log()
        assert log.count("Transport outage:") == 1, log
        assert log.count("Transport outage over after") == 1, log
        assert "Traceback" not in log, log
    finally:
        restarted.stop()


def test_a_worker_obeys_sigterm_promptly_while_redis_is_frozen(
    redis_server: RedisProcess, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker({"url": redis_server.url, **WORKER_TRANSPORT})
    client = redis_client({"url": redis_server.url})
    wait_until_served(client, worker)

    os.kill(redis_server.pid, signal.SIGSTOP)  # connections stay open; nothing answers
    # Not silent: an idle worker notices within its receive timeout plus a margin.
    wait_for(lambda: "Transport outage:" in worker.log(), 6, lambda: f"the outage to be logged:\n{worker.log()}")
    worker.signal(signal.SIGTERM)
    took = timed(lambda: worker.wait(15))[0]
    assert worker.process.returncode == 0, worker.log()
    assert took <= 3.0 + LATE, worker.log()


def test_a_worker_gives_up_only_when_its_give_up_setting_says_so(
    redis_server: RedisProcess, start_worker: Callable[..., Worker]
) -> None:
    patient = start_worker({"url": redis_server.url, **WORKER_TRANSPORT})
    impatient = start_worker({"url": redis_server.url, **WORKER_TRANSPORT}, env={"RELIABILITY_GIVE_UP": "1.5"})
    client = redis_client({"url": redis_server.url})
    wait_until_served(client, patient)
    wait_until_served(client, impatient)

    redis_server.kill()
    assert impatient.wait(10) == 1, impatient.log()
    assert "transport_outage_give_up_after_seconds=1.5" in impatient.log()
    assert patient.alive, patient.log()
