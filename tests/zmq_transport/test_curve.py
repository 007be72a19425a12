"""CURVE encryption and authentication between clients, the router and workers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from pysoa.errors import MessageSendTimeout, TransportConnectionError, TransportError
from tests.zmq_transport.cluster import SERVICE, Cluster, wait_until


def _key_pair() -> tuple[str, str]:
    public, secret = zmq.curve_keypair()
    return public.decode(), secret.decode()


SERVER = _key_pair()
ALLOWED = _key_pair()
STRANGER = _key_pair()


def _client_keys(pair: tuple[str, str], server_public: str = SERVER[0]) -> dict[str, str]:
    return {"curve_public_key": pair[0], "curve_secret_key": pair[1], "curve_server_public_key": server_public}


@pytest.fixture
def secure(ipc_dir: Path) -> Iterator[Cluster]:
    """A router and worker that accept only the ALLOWED client key."""
    cluster = Cluster(
        ipc_dir,
        f"ipc://{ipc_dir}/svc",
        {"curve_public_key": SERVER[0], "curve_secret_key": SERVER[1], "curve_client_public_keys": [ALLOWED[0]]},
    )
    cluster.start_router()
    cluster.add_worker()
    yield cluster
    cluster.stop()


def test_an_authorised_client_is_served(secure: Cluster) -> None:
    client = secure.client(**_client_keys(ALLOWED))
    assert client.call_action(SERVICE, "echo", {"secret": "s3cr3t"}, timeout=10).body["secret"] == "s3cr3t"


def test_an_unknown_client_key_is_refused_within_the_deadline(secure: Cluster) -> None:
    client = secure.client(**_client_keys(STRANGER))
    started = time.monotonic()
    with pytest.raises(TransportConnectionError, match="refused this client's CURVE key"):
        client.call_action(SERVICE, "echo", {}, timeout=3)
    assert time.monotonic() - started < 3 + 0.5


def test_a_client_without_curve_cannot_reach_a_curve_service(secure: Cluster) -> None:
    client = secure.client()
    started = time.monotonic()
    with pytest.raises((MessageSendTimeout, TransportConnectionError)):
        client.call_action(SERVICE, "echo", {}, timeout=1)
    assert time.monotonic() - started < 1 + 0.5


def test_a_client_that_trusts_the_wrong_server_key_fails_within_the_deadline(secure: Cluster) -> None:
    client = secure.client(**_client_keys(ALLOWED, server_public=STRANGER[0]))
    started = time.monotonic()
    with pytest.raises(TransportError):
        client.call_action(SERVICE, "echo", {}, timeout=1)
    assert time.monotonic() - started < 1 + 0.5


def test_a_worker_without_the_service_keys_never_gets_work(secure: Cluster) -> None:
    """Workers authenticate to the router with the service's own key pair; an impostor stays out."""
    impostor = secure.add_worker(curve_public_key=STRANGER[0], curve_secret_key=STRANGER[1])
    legitimate = secure.workers[0].pid
    client = secure.client(**_client_keys(ALLOWED))
    # The impostor did try, and the router refused it (else this test could pass without one).
    wait_until(
        lambda: "A worker failed the CURVE handshake" in _router_log(secure), 10, "the router to refuse the impostor"
    )
    answered_by = {client.call_action(SERVICE, "echo", {}, timeout=5).body["pid"] for _ in range(10)}
    assert answered_by == {legitimate}
    assert impostor.poll() is None  # refused, not crashed: it keeps trying


def test_a_key_refused_before_the_first_send_still_fails_fast_with_the_connection_error(secure: Cluster) -> None:
    # The handshake runs (and fails) as soon as the socket connects; CURVE refusals are final, so
    # the client must have been watching from the start, not from its first blocked send.
    client = secure.client(**_client_keys(STRANGER))
    transport = client._get_handler(SERVICE).transport
    state = transport._state()  # type: ignore[attr-defined]  # opens and connects this thread's socket
    refusal = f"Refused a connection with CURVE key {STRANGER[0]} (soa-zmq.frontend)"
    wait_until(lambda: refusal in _router_log(secure), 10, "the router to refuse the client")
    # The refusal has reached the client before it sends: its socket monitor (watching since the
    # socket connected) holds the handshake's outcome. Polling does not consume the event.
    wait_until(lambda: state.monitor.poll(0, zmq.POLLIN) != 0, 10, "the refusal to reach the client")
    started = time.monotonic()
    with pytest.raises(TransportConnectionError, match="refused this client's CURVE key"):
        client.call_action(SERVICE, "echo", {}, timeout=3)
    assert time.monotonic() - started < 1.0


def _router_log(cluster: Cluster) -> str:
    return (cluster.log_dir / "router.log").read_text(errors="replace")


def test_without_an_allow_list_any_client_key_is_served_encrypted(ipc_dir: Path) -> None:
    cluster = Cluster(ipc_dir, f"ipc://{ipc_dir}/svc", {"curve_public_key": SERVER[0], "curve_secret_key": SERVER[1]})
    try:
        cluster.start_router()
        cluster.add_worker()
        client = cluster.client(**_client_keys(STRANGER))
        assert client.call_action(SERVICE, "echo", {"n": 1}, timeout=10).body["n"] == 1
    finally:
        cluster.stop()


def test_a_standalone_worker_enforces_the_same_keys(ipc_dir: Path) -> None:
    cluster = Cluster(
        ipc_dir,
        f"ipc://{ipc_dir}/svc",
        {"curve_public_key": SERVER[0], "curve_secret_key": SERVER[1], "curve_client_public_keys": [ALLOWED[0]]},
    )
    try:
        worker = cluster.add_worker(role="standalone")
        allowed = cluster.client(**_client_keys(ALLOWED))
        cluster.wait_for_workers(allowed, [worker.pid])
        with pytest.raises(TransportConnectionError, match="refused this client's CURVE key"):
            cluster.client(**_client_keys(STRANGER)).call_action(SERVICE, "echo", {}, timeout=3)
    finally:
        cluster.stop()
