"""The supervisor over the Redis transport: a killed worker is replaced, SIGTERM lets a running action answer."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from tests.runtime.conftest import STANDALONE, Service, pid_alive, wait_for

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    from tests.redis_transport.servers import start_redis

    server = start_redis(tmp_path / "redis")
    yield server.url
    server.stop()


def test_workers_over_redis_are_respawned_and_finish_their_job_on_sigterm(
    start_service: Callable[..., Service], redis_url: str, tmp_path: Path
) -> None:
    from soa_redis._backend import reset_backends

    client = Client({"runtime": {"transport": {"name": "redis", "kwargs": {"url": redis_url}}}})
    service = start_service(*STANDALONE, "-f", "2", env={"RUNTIME_REDIS_URL": redis_url})
    try:
        old = service.wait_for_workers(2)
        os.kill(old[1], signal.SIGKILL)
        new = service.wait_for_heartbeats(lambda b: len(b) == 2 and b[1] != old[1], what="worker #1's replacement")
        answered_by = {client.call_action("runtime", "whoami").body["pid"] for _ in range(6)}
        assert answered_by <= set(new.values())

        marker = tmp_path / "running"
        result: dict[str, Any] = {}
        caller = threading.Thread(
            target=lambda: result.update(
                client.call_action("runtime", "slow", {"seconds": 1.5, "marker": str(marker)}, timeout=15).body
            )
        )
        caller.start()
        wait_for(marker.exists, 10, "the action to start")
        service.send(signal.SIGTERM)
        caller.join(20)
        assert result == {"slept": 1.5, "pid": int(marker.read_text())}
        assert service.wait() == 0
        assert not any(pid_alive(pid) for pid in new.values())
    finally:
        reset_backends()


@pytest.mark.parametrize("fork", [[], ["-f", "2"]], ids=["one-process", "supervisor"])
def test_refused_credentials_stop_the_service_at_start_up_with_status_78(
    start_service: Callable[..., Service], redis_url: str, fork: list[str]
) -> None:
    from pysoa.server.standalone import EXIT_CONFIGURATION_ERROR

    bad_url = redis_url.replace("redis://", "redis://nobody:wrong@")
    service = start_service(*STANDALONE, *fork, env={"RUNTIME_REDIS_URL": bad_url})
    # Well before the ~17 s a worker used to spend retrying, and not respawned: it exits for good.
    assert service.wait(timeout=30) == EXIT_CONFIGURATION_ERROR == 78
    log = service.log()
    problems = [line for line in log.splitlines() if "Service 'runtime' cannot start" in line]
    assert problems, log
    assert all("refused the login of user 'nobody'" in line for line in problems), log
    assert "wrong" not in log  # the password is never logged
    assert "Re-spawning" not in log
    assert "Traceback" not in log
    assert service.heartbeats() == {}  # never reported itself up
