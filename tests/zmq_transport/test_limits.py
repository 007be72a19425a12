"""Message size limits and high-water-mark (full queue) behaviour, with real processes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pysoa.client.client import FutureSOAResponse
from pysoa.errors import CallJobError, MessageReceiveTimeout, MessageSendTimeout, MessageTooLarge
from tests.zmq_transport.cluster import SERVICE, Cluster, read_pid


def test_an_oversize_request_fails_before_any_io(cluster: Cluster) -> None:
    """No router runs: had the client tried to send, it would have blocked until its deadline instead."""
    client = cluster.client(maximum_message_size_in_bytes=2000)
    started = time.monotonic()
    with pytest.raises(MessageTooLarge) as info:
        client.call_action(SERVICE, "echo", {"pad": "x" * 3000}, timeout=5)
    assert time.monotonic() - started < 1
    assert info.value.message_size_in_bytes > 3000
    # The request left no trace: nothing is outstanding for this thread.
    assert client.handlers[SERVICE].transport.receive_response_message(0) == (None, None, None)


def test_an_oversize_response_becomes_a_job_error_and_the_worker_carries_on(cluster: Cluster) -> None:
    cluster.server_kwargs["maximum_message_size_in_bytes"] = 10_000
    cluster.start_router()
    cluster.add_worker()
    client = cluster.client(maximum_message_size_in_bytes=10_000)
    with pytest.raises(CallJobError) as info:
        client.call_action(SERVICE, "big", {"size": 20_000}, timeout=10)
    assert info.value.errors[0].code == "RESPONSE_TOO_LARGE"
    assert client.call_action(SERVICE, "big", {"size": 100}, timeout=5).body["data"] == "x" * 100


def test_a_peer_sending_more_than_the_receivers_limit_is_cut_off_without_harm(cluster: Cluster) -> None:
    """A misconfigured client (larger limit than the router's) loses that request, and nothing else.

    The router's MAXMSGSIZE drops the offending connection before the frame reaches Python; the
    client reconnects by itself, and the router keeps serving everybody.
    """
    cluster.server_kwargs["maximum_message_size_in_bytes"] = 10_000
    cluster.start_router()
    cluster.add_worker()
    careful = cluster.client(maximum_message_size_in_bytes=10_000)
    careless = cluster.client(maximum_message_size_in_bytes=1_000_000)
    careful.call_action(SERVICE, "echo", {}, timeout=10)
    careless.call_action(SERVICE, "echo", {}, timeout=10)

    with pytest.raises(MessageReceiveTimeout):
        careless.call_action(SERVICE, "echo", {"pad": "x" * 50_000}, timeout=1)

    assert careful.call_action(SERVICE, "echo", {"ok": 1}, timeout=5).body["ok"] == 1
    assert careless.call_action(SERVICE, "echo", {"ok": 2}, timeout=5).body["ok"] == 2


def test_a_worker_answers_a_request_above_its_own_limit_with_a_clear_error(cluster: Cluster) -> None:
    """A request the router let through (its limit is larger) but the worker refuses is answered, not timed out.

    (A frame above a bound socket's own limit, the router's or a standalone worker's, is cut off by
    libzmq with its connection, before anyone can read where to answer: see the test above.)
    """
    cluster.start_router()
    cluster.add_worker(maximum_message_size_in_bytes=10_000)
    careless = cluster.client(maximum_message_size_in_bytes=1_000_000)
    careless.call_action(SERVICE, "echo", {}, timeout=10)
    started = time.monotonic()
    with pytest.raises(CallJobError) as info:
        careless.call_action(SERVICE, "echo", {"pad": "x" * 50_000}, timeout=10)
    assert time.monotonic() - started < 5
    [error] = info.value.errors
    assert error.code == "REQUEST_TOO_LARGE"
    assert "maximum_message_size_in_bytes is 10000" in (error.message or "")
    assert careless.call_action(SERVICE, "echo", {"ok": 1}, timeout=5).body["ok"] == 1


def test_a_response_larger_than_the_clients_limit_costs_only_that_call(cluster: Cluster) -> None:
    cluster.start_router()
    worker = cluster.add_worker()
    client = cluster.client(maximum_message_size_in_bytes=10_000)
    client.call_action(SERVICE, "echo", {}, timeout=10)
    with pytest.raises(MessageReceiveTimeout):
        client.call_action(SERVICE, "big", {"size": 50_000}, timeout=1)
    assert client.call_action(SERVICE, "echo", {"after": 1}, timeout=5).body == {"after": 1, "pid": worker.pid}


def test_when_every_worker_is_busy_and_the_queues_are_full_calls_fail_by_their_deadline(
    cluster: Cluster, ipc_dir: Path
) -> None:
    """The documented high-water-mark behaviour.

    With its only worker busy, the router stops reading requests; they wait in ZeroMQ's bounded
    queues. Once those are full a send blocks, and fails with MessageSendTimeout at its deadline.
    Requests that did fit in the queues expire there: their callers get MessageReceiveTimeout at
    their deadline, and no worker ever runs them.
    """
    cluster.server_kwargs.update(send_high_water_mark=1, receive_high_water_mark=1)
    cluster.start_router()
    cluster.add_worker()
    client = cluster.client(send_high_water_mark=1, receive_high_water_mark=1)
    client.call_action(SERVICE, "echo", {}, timeout=10)

    pid_file = ipc_dir / "busy.pid"
    busy = client.call_action_future(SERVICE, "sleep", {"seconds": 2.5, "pid_file": str(pid_file)}, timeout=10)
    read_pid(pid_file)

    ran = ipc_dir / "ran"
    pad = "x" * 200_000  # big requests fill the operating system's socket buffers quickly
    queued: list[FutureSOAResponse] = []
    refused: MessageSendTimeout | None = None
    for n in range(60):
        started = time.monotonic()
        try:
            queued.append(
                client.call_action_future(
                    SERVICE, "sleep", {"seconds": 0.5, "mark": str(ran), "label": n, "pad": pad}, timeout=0.5
                )
            )
        except MessageSendTimeout as exc:
            refused = exc
            assert time.monotonic() - started < 0.5 + 0.5
            break
    assert refused is not None, "sends never blocked"
    assert "queues are full" in str(refused)
    assert queued, "no request fitted in the queues"

    for future in queued:
        with pytest.raises(MessageReceiveTimeout):
            future.result()
    busy.result()
    assert client.call_action(SERVICE, "echo", {"n": "after"}, timeout=2).body["n"] == "after"
    assert not ran.exists(), "an expired request was run"
