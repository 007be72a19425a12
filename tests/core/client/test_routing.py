"""Response routing: futures, parallel calls, timeouts, threads, suppress_response."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.types import ActionResponse, JobResponse
from pysoa.errors import CallActionError, MessageReceiveTimeout
from pysoa.server import Server


def delayed(request: Any) -> dict[str, Any]:
    return {"n": request.body.get("n")}


class DelayServer(Server):
    service_name = "delay"
    action_class_map = {"echo_n": delayed}


class OtherServer(Server):
    service_name = "other"
    action_class_map = {"echo_n": delayed}


def threaded(server_class: type[Server]) -> dict[str, Any]:
    return {
        "transport": {
            "path": "tests.core.client.threaded_transport:ThreadedClientTransport",
            "kwargs": {"server_class": server_class},
        }
    }


@pytest.fixture
def client() -> Client:
    return Client({"delay": threaded(DelayServer), "other": threaded(OtherServer)})


def act(n: int, delay: float = 0) -> dict[str, Any]:
    return {"action": "echo_n", "body": {"n": n, "delay": delay}}


def test_futures_resolved_out_of_order_get_their_own_responses(client: Client) -> None:
    slow = client.call_action_future("delay", "echo_n", {"n": 1, "delay": 0.3})
    fast = client.call_action_future("delay", "echo_n", {"n": 2, "delay": 0})
    # Waiting for the slow one first receives the fast one's reply, which must be kept for it.
    assert slow.result().body == {"n": 1}
    assert fast.result().body == {"n": 2}
    assert fast.done()
    assert slow.done()


def test_parallel_results_are_in_input_order(client: Client) -> None:
    actions = [act(i, delay=0.05 * (5 - i)) for i in range(5)]
    results = list(client.call_actions_parallel("delay", actions))
    assert [r.body["n"] for r in results] == [0, 1, 2, 3, 4]


def test_jobs_parallel_across_services_in_input_order(client: Client) -> None:
    jobs = [
        {"service_name": "other", "actions": [act(1, 0.2)]},
        {"service_name": "delay", "actions": [act(2, 0.0), act(3, 0.0)]},
        {"service_name": "other", "actions": [act(4, 0.0)]},
    ]
    responses = client.call_jobs_parallel(jobs)
    assert all(isinstance(r, JobResponse) for r in responses)
    assert [[a.body["n"] for a in r.actions] for r in responses] == [[1], [2, 3], [4]]


def test_parallel_action_errors_raise_after_all_arrive(client: Client) -> None:
    with pytest.raises(CallActionError):
        list(client.call_actions_parallel("delay", [act(1), {"action": "missing"}]))


def test_a_timed_out_call_does_not_poison_the_next_one(client: Client) -> None:
    with pytest.raises(MessageReceiveTimeout):
        client.call_action("delay", "echo_n", {"n": 1, "delay": 0.4}, timeout=0.1)
    # The late reply to the first call arrives while the second call waits; it must be dropped.
    assert client.call_action("delay", "echo_n", {"n": 2, "delay": 0.5}, timeout=3).body == {"n": 2}
    assert client.call_action("delay", "echo_n", {"n": 3}, timeout=3).body == {"n": 3}


def test_a_future_timeout_is_not_remembered(client: Client) -> None:
    future = client.call_action_future("delay", "echo_n", {"n": 5, "delay": 0.3})
    with pytest.raises(MessageReceiveTimeout):
        future.result(timeout=0.05)
    assert not future.done()
    # Asking again still gets the response: a timed-out result() does not give up on the request.
    assert future.result(timeout=3).body == {"n": 5}
    assert future.done()


def test_a_dropped_timed_out_future_releases_its_request(client: Client) -> None:
    import gc

    future = client.call_action_future("delay", "echo_n", {"n": 6, "delay": 0.3})
    with pytest.raises(MessageReceiveTimeout):
        future.result(timeout=0.05)
    handler = client._get_handler("delay")
    assert len(handler._router) == 1
    del future
    gc.collect()
    assert len(handler._router) == 0
    # Its late reply arrives during the next call, and is dropped rather than confusing it.
    assert client.call_action("delay", "echo_n", {"n": 7, "delay": 0.5}, timeout=3).body == {"n": 7}
    assert list(handler._router.parked_unclaimed()) == []


def test_a_timed_out_parallel_future_can_be_resumed(client: Client) -> None:
    future = client.call_actions_parallel_future("delay", [act(1, 0.0), act(2, 0.4)])
    with pytest.raises(MessageReceiveTimeout):
        future.result(timeout=0.2)
    assert [r.body["n"] for r in future.result(timeout=3)] == [1, 2]


def test_suppress_response_never_leaves_later_calls_waiting(client: Client) -> None:
    client.send_request("delay", [act(1)], suppress_response=True)
    assert client.call_action("delay", "echo_n", {"n": 2}, timeout=2).body == {"n": 2}
    assert list(client.get_all_responses("delay", receive_timeout_in_seconds=0.5)) == []


def test_send_request_and_get_all_responses(client: Client) -> None:
    ids = [client.send_request("delay", [act(i, 0.05 * (3 - i))]) for i in range(3)]
    got = dict(client.get_all_responses("delay", receive_timeout_in_seconds=2))
    assert sorted(got) == sorted(ids)
    assert sorted(r.actions[0].body["n"] for r in got.values()) == [0, 1, 2]


def test_one_client_shared_by_threads(client: Client) -> None:
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            results[k] = [
                client.call_action("delay", "echo_n", {"n": k * 100 + i}, timeout=5).body["n"] for i in range(20)
            ]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == {k: [k * 100 + i for i in range(20)] for k in range(6)}


def test_call_action_returns_action_response(client: Client) -> None:
    response = client.call_action("delay", "echo_n", {"n": 9})
    assert isinstance(response, ActionResponse)


def test_close_closes_transports_and_a_later_call_reopens() -> None:
    from tests.core.services import local_client

    closed: list[str] = []
    with local_client() as client:
        client.call_action("example", "echo")
        transport = client._get_handler("example").transport
        transport.close = lambda: closed.append("closed")  # type: ignore[method-assign]
    assert closed == ["closed"]
    assert client.handlers == {}
    assert client.call_action("example", "echo", {"again": True}).body == {"again": True}


def test_parallel_calls_take_the_keywords_of_their_futures(client: Client) -> None:
    # The blocking parallel calls do not go through their futures: their keywords must still match.
    with pytest.raises(TypeError, match="continue_on_error"):
        client.call_actions_parallel("delay", [act(1)], continue_on_error=True)
    with pytest.raises(TypeError):
        client.call_jobs_parallel([{"service_name": "delay", "actions": [act(1)]}], no_such_option=True)
    responses = client.call_jobs_parallel([{"service_name": "delay", "actions": [act(1)]}], continue_on_error=True)
    assert [r.actions[0].body["n"] for r in responses] == [1]
    with pytest.raises(TypeError):
        client.call_actions_parallel_future("delay", [act(1)], continue_on_error=True)  # type: ignore[call-arg]
