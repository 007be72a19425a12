"""Redis Sentinel: master discovery and failover under steady calls (1 master + 1 replica + 3 Sentinels)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pysoa.errors import ConfigurationError, MessageReceiveTimeout, TransientTransportError
from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

from .helpers import job, response
from .servers import SentinelCluster

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def _serve_once(server: RedisServerTransport) -> None:
    request_id, meta, body = server.receive_request_message()
    assert meta is not None
    assert body is not None
    server.send_response_message(request_id, meta, response(n=body["actions"][0]["body"].get("n")))


@pytest.mark.parametrize("form", ["simple", "pysoa"])
def test_masters_are_found_through_the_sentinels(sentinel_cluster: SentinelCluster, form: str) -> None:
    settings: dict[str, Any]
    if form == "simple":
        # No service names: the masters come from SENTINEL MASTERS.
        settings = {"sentinel": {"hosts": sentinel_cluster.sentinel_hosts}}
    else:
        settings = {
            "backend_type": "redis.sentinel",
            "backend_layer_kwargs": {
                "hosts": [(s.host, s.port) for s in sentinel_cluster.sentinels],
                "sentinel_services": [sentinel_cluster.service],
            },
        }
    client = RedisClientTransport("svc", **settings)
    server = RedisServerTransport("svc", receive_timeout_in_seconds=2, **settings)
    client.send_request_message(1, {}, job(n=1))
    assert sentinel_cluster.master.client().llen("pysoa:service.svc") == 1
    _serve_once(server)
    assert client.receive_response_message(2).body == response(n=1)


class _Worker(threading.Thread):
    """A server loop that, like a real worker, rides out transient transport errors."""

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.transport = RedisServerTransport("svc", receive_timeout_in_seconds=0.5, **settings)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                _serve_once(self.transport)
            except MessageReceiveTimeout:
                continue
            except TransientTransportError:
                time.sleep(0.05)


CALL_TIMEOUT = 2.0


def _call(client: RedisClientTransport, number: int) -> Exception | None:
    """One call; returns the error, or None on success. Late replies are skipped."""
    deadline = time.monotonic() + CALL_TIMEOUT
    try:
        client.send_request_message(number, {}, job(n=number), CALL_TIMEOUT)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MessageReceiveTimeout("call timed out")
            message = client.receive_response_message(remaining)
            if message.request_id == number:
                return None
    except TransientTransportError as exc:
        return exc


def test_calls_resume_quickly_after_the_master_dies(sentinel_cluster: SentinelCluster) -> None:
    settings: dict[str, Any] = {
        "sentinel": {
            "hosts": sentinel_cluster.sentinel_hosts,
            "services": [sentinel_cluster.service],
            "failover_retries": 10,
        }
    }
    worker = _Worker(settings)
    worker.start()
    client = RedisClientTransport("svc", **settings)
    try:
        assert [_call(client, n) for n in range(10)] == [None] * 10

        old_port = sentinel_cluster.master.port
        sentinel_cluster.master.kill()
        outcomes: list[tuple[float, Exception | None]] = []
        promoted_at: float | None = None
        number = 10
        give_up = time.monotonic() + 30
        while time.monotonic() < give_up:
            outcomes.append((time.monotonic(), _call(client, number)))
            number += 1
            if promoted_at is None:
                new_port = sentinel_cluster.master_port()
                if new_port is not None and new_port != old_port:
                    promoted_at = time.monotonic()
            last = [error for _, error in outcomes[-10:]]
            if promoted_at is not None and len(last) == 10 and last == [None] * 10:
                break
            time.sleep(0.02)
    finally:
        worker.stopping.set()
        worker.join(5)

    history = [(round(at - outcomes[0][0], 2), type(error).__name__ if error else "ok") for at, error in outcomes]
    assert promoted_at is not None, f"the Sentinels never promoted the replica: {history}"
    first_success_after = min(at for at, error in outcomes if error is None and at >= promoted_at)
    assert first_success_after - promoted_at < 5.0, history
    # Callers only ever saw transient (retry-safe) errors, and the last 10 calls all succeeded.
    assert all(isinstance(error, TransientTransportError) for _, error in outcomes if error is not None), history
    assert [error for _, error in outcomes[-10:]] == [None] * 10, history


@pytest.mark.parametrize("discover", [False, True], ids=["named-service", "discovered-services"])
def test_sentinels_refusing_the_login_fail_the_start_up_check(
    sentinel_cluster: SentinelCluster, discover: bool
) -> None:
    # redis-py reports this as "no master found", like a failover; the check asks the Sentinels directly.
    sentinel = {"hosts": sentinel_cluster.sentinel_hosts, "sentinel_kwargs": {"username": "nobody", "password": "x"}}
    if not discover:
        sentinel["services"] = [sentinel_cluster.service]
    server = RedisServerTransport("svc", sentinel=sentinel)
    with pytest.raises(ConfigurationError, match=r"Every Sentinel refused .* AuthenticationError"):
        server.check_startup()


def test_a_failover_in_progress_is_not_a_configuration_error(sentinel_cluster: SentinelCluster) -> None:
    settings: dict[str, Any] = {"sentinel": {"hosts": sentinel_cluster.sentinel_hosts, "services": ["no-such-master"]}}
    RedisServerTransport("svc", **settings).check_startup()  # logged, not raised: the master may come
