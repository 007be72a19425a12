"""Calls through pysoa.client.Client, a real router process and real worker processes (pysoa.server.Server.run)."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest
import zmq

from pysoa.errors import CallActionError, MessageSendTimeout
from pysoa.plugins import get_plugin_manager
from soa_zmq._protocol import parse_header, request_header
from tests.zmq_transport.cluster import SERVICE, Cluster


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_round_trip_over_ipc(cluster: Cluster) -> None:
    cluster.start_router()
    worker = cluster.add_worker()
    client = cluster.client()
    response = client.call_action(SERVICE, "echo", {"text": "héllo ☃", "n": [1, 2.5, None]}, timeout=10)
    assert response.body == {"text": "héllo ☃", "n": [1, 2.5, None], "pid": worker.pid}


def test_round_trip_over_tcp(ipc_dir: Path) -> None:
    """The router binds every interface (tcp://*:port); clients name the host."""
    port = _free_tcp_port()
    cluster = Cluster(ipc_dir, f"tcp://*:{port}")
    try:
        cluster.start_router()
        worker = cluster.add_worker()
        client = cluster.client(endpoint=f"tcp://127.0.0.1:{port}")
        assert client.call_action(SERVICE, "echo", {"x": 1}, timeout=10).body == {"x": 1, "pid": worker.pid}
    finally:
        cluster.stop()


def test_errors_and_jobs_travel_like_any_transport(cluster: Cluster) -> None:
    cluster.start_router()
    cluster.add_worker()
    client = cluster.client()
    client.call_action(SERVICE, "echo", {}, timeout=10)  # connected
    with pytest.raises(CallActionError) as info:
        client.call_action(SERVICE, "no_such_action", timeout=5)
    assert info.value.actions[0].errors[0].code == "UNKNOWN"
    job = client.call_actions(SERVICE, [{"action": "echo", "body": {"a": 1}}, {"action": "echo", "body": {"b": 2}}])
    assert [action.body["a" if i == 0 else "b"] for i, action in enumerate(job.actions)] == [1, 2]


def test_the_server_answers_in_the_clients_serializer(cluster: Cluster) -> None:
    """The content type travels with each request: a JSON client gets JSON back from a msgpack-default server."""
    cluster.start_router()
    cluster.add_worker()
    json_client = cluster.client(default_serializer_config="json")
    msgpack_client = cluster.client()
    assert json_client.call_action(SERVICE, "echo", {"via": "json"}, timeout=10).body["via"] == "json"
    assert msgpack_client.call_action(SERVICE, "echo", {"via": b"bytes"}, timeout=10).body["via"] == b"bytes"
    transport = json_client.handlers[SERVICE].transport
    assert transport.serializer.mime_type == "application/json"  # type: ignore[attr-defined]


def test_a_suppressed_response_leaves_the_worker_available(cluster: Cluster) -> None:
    """With no response to mark it idle, the worker must say READY itself, or the router would starve."""
    cluster.start_router()
    cluster.add_worker()
    client = cluster.client()
    client.call_action(SERVICE, "echo", {}, timeout=10)
    for n in range(3):
        client.send_request(SERVICE, [{"action": "echo", "body": {"n": n}}], suppress_response=True)
    assert client.call_action(SERVICE, "echo", {"after": True}, timeout=5).body["after"] is True


def test_no_response_is_outstanding_before_any_request(cluster: Cluster) -> None:
    client = cluster.client()
    transport = client._get_handler(SERVICE).transport
    assert transport.receive_response_message(0.01) == (None, None, None)


def test_a_call_with_no_router_fails_at_its_deadline_saying_why(cluster: Cluster) -> None:
    """Nothing queues on a connection that does not exist: the send itself gives up at the deadline."""
    client = cluster.client()
    with pytest.raises(MessageSendTimeout, match="no connection") as caught:
        client.call_action(SERVICE, "echo", {}, timeout=0.3)
    # It says where, and how long it really waited.
    match = re.search(rf"at {re.escape(cluster.endpoint)} after (\d+\.\d{{3}}) s", str(caught.value))
    assert match is not None, caught.value
    assert 0.3 <= float(match.group(1)) < 1.0


def test_threads_sharing_one_client_each_get_their_own_responses(cluster: Cluster) -> None:
    cluster.start_router()
    workers = [cluster.add_worker(), cluster.add_worker()]
    client = cluster.client()
    cluster.wait_for_workers(client, [w.pid for w in workers])
    failures: list[str] = []

    def call_many(thread_number: int) -> None:
        try:
            for n in range(40):
                if n % 4 == 0:
                    results = list(
                        client.call_actions_parallel(
                            SERVICE,
                            [{"action": "echo", "body": {"t": thread_number, "n": n, "k": k}} for k in range(3)],
                            timeout=10,
                        )
                    )
                    got = [(r.body["t"], r.body["n"], r.body["k"]) for r in results]
                    if got != [(thread_number, n, k) for k in range(3)]:
                        failures.append(f"thread {thread_number} call {n}: parallel got {got}")
                else:
                    body = client.call_action(SERVICE, "echo", {"t": thread_number, "n": n}, timeout=10).body
                    if (body["t"], body["n"]) != (thread_number, n):
                        failures.append(f"thread {thread_number} call {n}: got {body}")
        except Exception as exc:
            failures.append(f"thread {thread_number}: {exc!r}")

    threads = [threading.Thread(target=call_many, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    # Each thread had its own socket (zmq sockets are not thread-safe): one per calling thread.
    assert len(client.handlers[SERVICE].transport._states) >= len(threads)  # type: ignore[attr-defined]


def test_malformed_requests_never_kill_a_worker(cluster: Cluster) -> None:
    """Answerable ones (an id, a bad body) get a job error; unanswerable ones are dropped; the worker carries on."""
    cluster.start_router()
    worker = cluster.add_worker()
    client = cluster.client()
    cluster.wait_for_workers(client, [worker.pid])
    serializer = get_plugin_manager().serializer("msgpack")()
    content_type = serializer.mime_type.encode()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    raw = context.socket(zmq.DEALER)
    try:
        raw.connect(cluster.endpoint)

        def send(blob: bytes, mime: bytes = content_type) -> None:
            raw.send_multipart([request_header(time.time() + 10, mime), blob])

        send(b"\xc1 not msgpack")
        send(serializer.dict_to_blob({"meta": {}, "body": {}}))  # no request id: cannot be answered
        send(b"\xc1 not msgpack either", mime=b"application/x-unknown")  # decoded with the default: garbage
        # An unknown content type is decoded with the default serializer, and answered in it.
        send(serializer.dict_to_blob({"request_id": 1, "meta": {}, "body": [0]}), mime=b"application/x-unknown")
        send(serializer.dict_to_blob({"request_id": 5, "meta": {}, "body": [1, 2]}))
        answers = {}
        for _ in range(2):
            assert raw.poll(10_000), "an answerable request got no answer"
            header, blob = raw.recv_multipart()
            assert parse_header(header).content_type == serializer.mime_type
            answer = serializer.blob_to_dict(blob)
            answers[answer["request_id"]] = answer["body"]["errors"][0]["code"]
        assert answers == {1: "INVALID", 5: "INVALID"}
        assert not raw.poll(300), "an unanswerable request was answered"
    finally:
        raw.close(linger=0)
        context.term()
    body = client.call_action(SERVICE, "echo", {"still": "here"}, timeout=5).body
    assert body == {"still": "here", "pid": worker.pid}
