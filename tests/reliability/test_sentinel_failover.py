"""Sentinel failover under a stream of calls: no call outlives its deadline, and calls resume on the new master."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pysoa.errors import TransientTransportError
from tests.redis_transport.servers import SentinelCluster

from .conftest import LATE, Worker, redis_client, timed, wait_until_served
from .service import SERVICE

pytestmark = [pytest.mark.redis, pytest.mark.slow]

TIMEOUT = 1.5


def test_calls_keep_their_deadlines_through_a_failover_and_resume_after_it(
    sentinel_cluster: SentinelCluster, start_worker: Callable[..., Worker]
) -> None:
    transport = {"sentinel": {"hosts": sentinel_cluster.sentinel_hosts, "services": [sentinel_cluster.service]}}
    worker = start_worker({**transport, "receive_timeout_in_seconds": 1})
    client = redis_client(transport)
    wait_until_served(client, worker)

    old_port = sentinel_cluster.master.port
    sentinel_cluster.master.kill()
    history: list[tuple[float, float, str]] = []
    started = time.monotonic()
    promoted = False
    while time.monotonic() - started < 40:
        took, _, error = timed(lambda: client.call_action(SERVICE, "echo", {}, timeout=TIMEOUT))
        history.append((round(time.monotonic() - started, 2), round(took, 3), type(error).__name__ if error else "ok"))
        assert error is None or isinstance(error, TransientTransportError), history
        assert took <= TIMEOUT + LATE, history
        if not promoted:
            promoted = sentinel_cluster.master_port() not in (None, old_port)
        if promoted and [outcome for *_, outcome in history[-5:]] == ["ok"] * 5:
            break
        if error is not None:
            time.sleep(0.05)
    assert promoted, history
    assert [outcome for *_, outcome in history[-5:]] == ["ok"] * 5, history
    assert worker.alive, worker.log()
