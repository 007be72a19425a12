"""Roles: ``auto`` (the default: workers start the service's router themselves, exactly one at a time)
and ``standalone`` (one process serves the endpoint directly, no router)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

from soa_zmq._election import RouterLock
from tests.zmq_transport.cluster import SERVICE, Cluster, process_alive, wait_until


def _router_pid(cluster: Cluster) -> int | None:
    return RouterLock.holder_pid(cluster.options.lock_file) if cluster.router_running() else None


def test_the_first_worker_starts_the_one_router_and_a_worker_restarts_it_if_it_dies(cluster: Cluster) -> None:
    workers = [cluster.add_worker(role="auto"), cluster.add_worker(role="auto")]
    client = cluster.client()
    cluster.wait_for_workers(client, [w.pid for w in workers])
    router = _router_pid(cluster)
    assert router is not None
    assert router not in {w.pid for w in workers}  # its own process: a worker's death cannot take it down

    os.kill(router, signal.SIGKILL)
    wait_until(lambda: _router_pid(cluster) not in (None, router), 10, "a worker to start a new router")
    cluster.wait_for_workers(client, [w.pid for w in workers])


def test_a_started_router_exits_once_its_workers_are_gone(cluster: Cluster) -> None:
    worker = cluster.add_worker(role="auto", router_idle_exit_in_seconds=0.5)
    client = cluster.client()
    cluster.wait_for_workers(client, [worker.pid])
    router = _router_pid(cluster)
    assert router is not None
    cluster.stop_worker(worker)
    wait_until(lambda: not process_alive(router) or not cluster.router_running(), 10, "the router to exit")


def test_a_router_that_cannot_bind_stops_the_worker_with_the_reason(ipc_dir: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        cluster = Cluster(ipc_dir, f"tcp://127.0.0.1:{port}")
        try:
            worker = cluster.add_worker(role="auto")
            worker.wait(timeout=20)  # the server stops on a configuration error
            log = (ipc_dir / "worker-1.log").read_text()
            assert f"Could not start the router for tcp://127.0.0.1:{port}: Cannot bind" in log
            assert "Address already in use" in log
        finally:
            cluster.stop()


def test_a_standalone_worker_serves_clients_directly_and_alone(cluster: Cluster) -> None:
    worker = cluster.add_worker(role="standalone")
    client = cluster.client()
    cluster.wait_for_workers(client, [worker.pid])
    assert not Path(cluster.options.backend_endpoint.removeprefix("ipc://")).exists()  # no router anywhere

    second = cluster.add_worker(role="standalone")
    assert second.wait(timeout=20) == 0  # the server stops on the configuration error
    assert (
        f"{cluster.endpoint} is already served (by pid {worker.pid})" in (cluster.log_dir / "worker-2.log").read_text()
    )
    assert client.call_action(SERVICE, "echo", {"n": 1}, timeout=5).body == {"n": 1, "pid": worker.pid}


def test_a_client_carries_on_when_a_standalone_worker_is_replaced(cluster: Cluster) -> None:
    first = cluster.add_worker(role="standalone")
    client = cluster.client()
    cluster.wait_for_workers(client, [first.pid])
    first.kill()
    first.wait()
    second = cluster.add_worker(role="standalone")
    cluster.wait_for_workers(client, [second.pid])


def test_a_supervisor_can_own_the_router_for_its_lifetime(cluster: Cluster) -> None:
    """What ``soa serve --workers N`` would use: the router lives exactly as long as the block."""
    from soa_zmq.transport import ZmqServerTransport

    with ZmqServerTransport.supervisor_context(SERVICE, **cluster.server_kwargs):
        router = _router_pid(cluster)
        assert router is not None
        assert router != os.getpid()
        worker = cluster.add_worker(role="auto")  # finds the router running and joins it
        cluster.wait_for_workers(cluster.client(), [worker.pid])
        assert _router_pid(cluster) == router
    assert not process_alive(router) or not cluster.router_running()
