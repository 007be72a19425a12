"""Worker leases: a client's sequential calls go straight to the worker that answered it.

The router runs in this process (a thread), so that the tests can read its counters: a call that
went direct is one the router never dispatched.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from pysoa.client import Client
from pysoa.errors import MessageReceiveTimeout
from soa_zmq._lease import LeaseConnection
from soa_zmq._protocol import LEASED, LEASES, READY, REVOKE, control_header, response_header
from soa_zmq._settings import client_options
from soa_zmq.router import Router
from tests.zmq_transport.cluster import SERVICE, Cluster, read_pid, wait_until
from tests.zmq_transport.test_calls import _free_tcp_port
from tests.zmq_transport.test_curve import ALLOWED, SERVER, STRANGER, _client_keys
from tests.zmq_transport.test_router import CONTENT_TYPE, Running, _receive, _request, _serve
from tests.zmq_transport.test_router import running as running  # the fixture
from tests.zmq_transport.test_workers import Caller

# Leases that outlast every test: only the lessee's silence for 30 s, a heartbeat interval (5 s)
# or the router's REVOKE ends them.
LONG: dict[str, Any] = {"lease_hold_time_in_seconds": 30.0, "heartbeat_interval_in_seconds": 5.0}


class InProcessRouter:
    def __init__(self, cluster: Cluster) -> None:
        self.router = Router(cluster.options.router_config())
        self.router.bind()
        self.thread = threading.Thread(target=self.router.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.router.stop()
        self.thread.join(5)
        self.router.close()


Leasing = Callable[..., tuple[Cluster, Router]]


@pytest.fixture
def leasing(ipc_dir: Path) -> Iterator[Leasing]:
    """``leasing(endpoint=None, **server_kwargs)``: a cluster with its router running in this process."""
    started: list[tuple[Cluster, InProcessRouter]] = []

    def start(endpoint: str | None = None, **server_kwargs: Any) -> tuple[Cluster, Router]:
        cluster = Cluster(ipc_dir, endpoint or f"ipc://{ipc_dir}/svc", server_kwargs)
        router = InProcessRouter(cluster)
        started.append((cluster, router))
        return cluster, router.router

    yield start
    for cluster, router in started:
        cluster.stop()
        router.stop()


def _identity(router: Router, pid: int) -> Callable[[dict[bytes, Any]], bool]:
    """Whether the worker with ``pid`` is in one of the router's registries."""
    return lambda registry: any(f"/{pid}/" in worker.decode() for worker in registry)


def _lease_of(client: Client) -> Any:
    return client.handlers[SERVICE].transport._local.state.lease  # type: ignore[attr-defined]


def _wait_for_the_direct_connection(client: Client) -> None:
    """On a loaded machine (CURVE's handshake runs the worker's ZAP thread) the first call may outwait
    the client's brief wait for the handshake and go through the router: not what these tests count."""
    lease = _lease_of(client)
    assert lease is not None, "the call got no lease offer"
    wait_until(lambda: lease.usable(time.monotonic(), 5.0), 5, "the direct connection's handshake")


@pytest.mark.parametrize("scheme", ["ipc", "tcp"])
def test_sequential_calls_after_the_first_skip_the_router(leasing: Leasing, ipc_dir: Path, scheme: str) -> None:
    port = _free_tcp_port()
    endpoint = f"tcp://*:{port}" if scheme == "tcp" else None
    cluster, router = leasing(endpoint, **LONG)
    worker = cluster.add_worker()
    probe = cluster.client(endpoint=f"tcp://127.0.0.1:{port}" if endpoint else cluster.endpoint, use_leases=False)
    cluster.wait_for_workers(probe, [worker.pid])
    client = cluster.client(endpoint=probe.handlers[SERVICE].transport.options.endpoint)  # type: ignore[attr-defined]

    assert client.call_action(SERVICE, "echo", {"n": 0}, timeout=5).body["pid"] == worker.pid
    _wait_for_the_direct_connection(client)
    dispatched = router.stats["dispatched"]
    for n in range(1, 21):
        assert client.call_action(SERVICE, "echo", {"n": n}, timeout=5).body == {"n": n, "pid": worker.pid}

    assert router.stats["dispatched"] == dispatched
    assert router.stats["leases"] >= 1


def test_a_lease_unused_for_the_hold_time_is_given_back(leasing: Leasing) -> None:
    # A heartbeat interval far longer than the hold time: only the hold time can end the lease soon.
    cluster, router = leasing(lease_hold_time_in_seconds=0.05, heartbeat_interval_in_seconds=5.0)
    worker = cluster.add_worker()
    cluster.wait_for_workers(cluster.client(use_leases=False), [worker.pid])
    client = cluster.client()
    is_worker = _identity(router, worker.pid)
    wait_until(lambda: is_worker(router.ready), 2, "the worker to be idle")
    leases = router.stats["leases"]
    client.call_action(SERVICE, "echo", {}, timeout=5)
    wait_until(lambda: router.stats["leases"] > leases, 2, "the worker to be leased")

    wait_until(lambda: is_worker(router.ready) and not is_worker(router.leased), 2, "the lease to be given back")
    assert router.stats["revokes"] == 0


def test_another_clients_request_makes_the_router_revoke_a_lease(leasing: Leasing, ipc_dir: Path) -> None:
    """The one worker is leased for 30 s; another client is still served at once, and the lessee's
    next direct request, refused since the lease ended, runs exactly once through the router."""
    cluster, router = leasing(**LONG)
    worker = cluster.add_worker()
    cluster.wait_for_workers(cluster.client(use_leases=False), [worker.pid])
    holder = cluster.client()
    holder.call_action(SERVICE, "echo", {}, timeout=5)
    is_worker = _identity(router, worker.pid)
    wait_until(lambda: is_worker(router.leased), 2, "the worker to be leased")

    other = cluster.client()
    assert other.call_action(SERVICE, "echo", {}, timeout=2).body["pid"] == worker.pid
    assert router.stats["revokes"] >= 1

    # The holder still counts on its lease: its next request goes straight to the worker, which refuses it.
    assert _lease_of(holder).usable(time.monotonic(), 1.0)
    dispatched = router.stats["dispatched"]
    mark = ipc_dir / "runs"
    body = holder.call_action(SERVICE, "sleep", {"seconds": 0, "mark": str(mark), "label": "once"}, timeout=2).body
    assert body["pid"] == worker.pid
    assert mark.read_text().splitlines() == ["once"]
    assert router.stats["dispatched"] == dispatched + 1  # resent through the router


def test_a_worker_killed_while_leased_costs_only_its_caller_one_timeout(leasing: Leasing, ipc_dir: Path) -> None:
    cluster, router = leasing(**LONG)
    workers = [cluster.add_worker(), cluster.add_worker()]
    cluster.wait_for_workers(cluster.client(use_leases=False), [w.pid for w in workers])
    lessee = cluster.client()
    victim = lessee.call_action(SERVICE, "echo", {}, timeout=2).body["pid"]
    (survivor,) = {w.pid for w in workers} - {victim}
    bystander = Caller(cluster.client())
    bystander.start()
    try:
        bystander.answered_by(survivor)
        pid_file = ipc_dir / "victim.pid"
        dispatched = router.stats["dispatched"]
        sent = time.monotonic()
        doomed = lessee.call_action_future(SERVICE, "sleep", {"seconds": 30, "pid_file": str(pid_file)}, timeout=1.5)
        assert read_pid(pid_file) == victim
        assert router.stats["dispatched"] == dispatched  # it went straight to the leased worker
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(MessageReceiveTimeout):
            doomed.result()
        assert time.monotonic() - sent < 1.5 + 1.0

        assert lessee.call_action(SERVICE, "echo", {}, timeout=2).body["pid"] == survivor
        assert set(bystander.calls_after(10)) == {survivor}
    finally:
        bystander.finish()
    assert bystander.errors == []


def test_a_leased_worker_that_leaves_loses_no_call(leasing: Leasing) -> None:
    cluster, router = leasing(lease_hold_time_in_seconds=0.5, heartbeat_interval_in_seconds=1.0)
    workers = [cluster.add_worker(), cluster.add_worker()]
    cluster.wait_for_workers(cluster.client(use_leases=False), [w.pid for w in workers])
    caller = Caller(cluster.client())
    caller.start()
    try:
        caller.calls_after(5)
        dispatched = router.stats["dispatched"]
        leased = caller.calls_after(20)
        assert router.stats["dispatched"] - dispatched < 20  # some went straight to the worker
        (leaving,) = [w for w in workers if w.pid == leased[-1]]
        (staying,) = [w for w in workers if w is not leaving]
        cluster.stop_worker(leaving)  # graceful: its lessee's requests are refused, then resent
        assert set(caller.calls_after(20)) == {staying.pid}
    finally:
        caller.finish()
    assert caller.errors == []


def test_leases_use_the_services_curve_policy(ipc_dir: Path, leasing: Leasing) -> None:
    cluster, router = leasing(
        curve_public_key=SERVER[0], curve_secret_key=SERVER[1], curve_client_public_keys=[ALLOWED[0]], **LONG
    )
    worker = cluster.add_worker()
    cluster.wait_for_workers(cluster.client(use_leases=False, **_client_keys(ALLOWED)), [worker.pid])
    client = cluster.client(**_client_keys(ALLOWED))
    client.call_action(SERVICE, "echo", {}, timeout=10)
    _wait_for_the_direct_connection(client)
    dispatched = router.stats["dispatched"]
    for n in range(10):
        assert client.call_action(SERVICE, "echo", {"n": n}, timeout=5).body["pid"] == worker.pid
    assert router.stats["dispatched"] == dispatched

    # A client whose key the service does not list cannot even complete the direct socket's handshake.
    (direct,) = ipc_dir.glob("svc.direct-*")
    context: zmq.Context[Any] = zmq.Context()
    stranger = context.socket(zmq.DEALER)
    try:
        stranger.setsockopt(zmq.LINGER, 0)
        stranger.setsockopt(zmq.CURVE_SERVERKEY, SERVER[0].encode())
        stranger.setsockopt(zmq.CURVE_PUBLICKEY, STRANGER[0].encode())
        stranger.setsockopt(zmq.CURVE_SECRETKEY, STRANGER[1].encode())
        monitor = stranger.get_monitor_socket()
        stranger.connect(f"ipc://{direct}")
        assert monitor.poll(5000)
        event = recv_monitor_message(monitor)
        while event["event"] in (zmq.EVENT_CONNECTED, zmq.EVENT_CONNECT_DELAYED):
            assert monitor.poll(5000)
            event = recv_monitor_message(monitor)
        assert event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH
    finally:
        stranger.disable_monitor()
        monitor.close()
        stranger.close()
        context.term()


def test_calls_keep_going_through_the_router_when_the_worker_cannot_be_reached(ipc_dir: Path, leasing: Leasing) -> None:
    cluster, router = leasing(**LONG)
    worker = cluster.add_worker()
    cluster.wait_for_workers(cluster.client(use_leases=False), [worker.pid])
    (direct,) = ipc_dir.glob("svc.direct-*")
    direct.unlink()  # its offers now name a socket nobody can connect to

    client = cluster.client()
    dispatched = router.stats["dispatched"]
    for n in range(10):
        assert client.call_action(SERVICE, "echo", {"n": n}, timeout=5).body == {"n": n, "pid": worker.pid}
    assert router.stats["dispatched"] == dispatched + 10


def test_the_router_gives_waiting_requests_only_to_idle_workers_and_revokes_leases(running: Running) -> None:
    """Driven by hand: LEASES is answered, a leased worker gets REVOKE instead of work, and work once READY."""
    worker = running.worker(b"A")
    worker.send(control_header(LEASES))
    assert _receive(worker) == [control_header(LEASES)]
    client = running.client()
    client.send_multipart(_request(b"r1"))
    assert _serve(worker) == b"r1"
    worker.send(control_header(LEASED))
    assert _receive(client) == [response_header(CONTENT_TYPE), b"re:r1"]
    wait_until(lambda: b"A" in running.router.leased, 2, "the worker to be leased")

    client.send_multipart(_request(b"r2"))
    assert _receive(worker) == [control_header(REVOKE)]  # not the request: a leased worker gets none
    worker.send(control_header(READY))
    assert _serve(worker) == b"r2"
    assert running.router.stats["revokes"] == 1


def test_the_first_direct_call_waits_for_the_handshake_no_longer_than_its_own_time_left(
    ipc_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens at the endpoint: the handshake never completes, and the call must go through the router
    # after waiting at most the smallest of the hold time, the handshake allowance and its own time left.
    options = client_options({"endpoint": f"ipc://{ipc_dir}/svc"})
    waits: list[float] = []
    monkeypatch.setattr(LeaseConnection, "_read_monitor", lambda _self, wait: waits.append(wait))
    lease = LeaseConnection(options, f"ipc://{ipc_dir}/nobody.direct", b"caller")
    try:
        now = time.monotonic()
        lease.renew(1, hold=30.0, lifetime=60.0, now=now)
        assert not lease.usable(now, 0.002)
        assert waits == [0.002]
        assert not lease.usable(now, 0.002)  # only the first call waits
        assert waits == [0.002, 0.0]
    finally:
        lease.close()


def test_a_lease_that_runs_out_while_the_request_is_encoded_is_not_used(
    leasing: Leasing, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker holds the lease for 30 s, so it would serve a direct request: only the client's second look at
    # the lease, after encoding (which may outlast what a lease had left), sends this one through the router.
    cluster, router = leasing(**LONG)
    worker = cluster.add_worker()
    cluster.wait_for_workers(cluster.client(use_leases=False), [worker.pid])
    client = cluster.client()
    client.call_action(SERVICE, "echo", {"n": 0}, timeout=5)
    _wait_for_the_direct_connection(client)
    lease = _lease_of(client)
    serializer = client.handlers[SERVICE].transport.serializer  # type: ignore[attr-defined]
    encode = serializer.dict_to_blob

    def encode_slowly(message: dict[str, Any]) -> bytes:
        lease.valid_until = time.monotonic()  # the lease's time runs out meanwhile
        blob: bytes = encode(message)
        return blob

    monkeypatch.setattr(serializer, "dict_to_blob", encode_slowly)
    dispatched = router.stats["dispatched"]

    assert client.call_action(SERVICE, "echo", {"n": 1}, timeout=5).body == {"n": 1, "pid": worker.pid}
    assert router.stats["dispatched"] == dispatched + 1
