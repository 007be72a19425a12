"""Deadlines across hops: the client stamps them, the server exposes, enforces and passes them on."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common._deadline import CALL_MARGIN_SECONDS, job_deadline
from pysoa.common.constants import ERROR_CODE_DEADLINE_EXCEEDED
from pysoa.errors import CallJobError, MessageReceiveTimeout
from pysoa.server import Server
from tests.core.services import local_client

# How many times each action ran, so that tests can tell "refused" from "ran and failed".
RUNS: dict[str, int] = {}


def _count(name: str) -> None:
    RUNS[name] = RUNS.get(name, 0) + 1


def report(request: Any) -> dict[str, Any]:
    _count("report")
    return {"control": dict(request.control), "deadline": request.deadline, "time_left": request.time_left()}


def use_up_the_deadline(request: Any) -> dict[str, Any]:
    """Returns once the job's deadline has passed (the condition is observable: ``time_left()`` reaches 0)."""
    _count("use_up_the_deadline")
    while request.time_left() > 0:
        time.sleep(0.01)
    return {}


def call_report(request: Any) -> dict[str, Any]:
    """Calls ``report`` on the backend service through ``request.client``, with the given timeout if any."""
    _count("call_report")
    timeout = request.body.get("timeout")
    response = request.client.call_action("backend", "report", timeout=timeout)
    return {"backend": response.body, "my_time_left": request.time_left()}


def call_backend_without_time(request: Any) -> dict[str, Any]:
    _count("call_backend_without_time")
    while request.time_left() > CALL_MARGIN_SECONDS / 2:
        time.sleep(0.01)
    try:
        request.client.call_action("backend", "report")
    except MessageReceiveTimeout as exc:
        return {"refused": str(exc)}
    return {"refused": None}


class BackendServer(Server):
    service_name = "backend"
    action_class_map = {"report": report, "use_up_the_deadline": use_up_the_deadline}


class FrontServer(Server):
    service_name = "front"
    action_class_map = {"call_report": call_report, "call_backend_without_time": call_backend_without_time}


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


@pytest.fixture
def backend() -> Client:
    return local_client(BackendServer)


@pytest.fixture
def front() -> Client:
    routing = {"backend": {"transport": {"name": "local", "kwargs": {"server_class": BackendServer}}}}
    return local_client(FrontServer, {"client_routing": routing})


# --- on the wire ------------------------------------------------------------------------------------------------------


def test_a_call_with_a_timeout_sends_its_budget_and_absolute_deadline(backend: Client) -> None:
    before = time.time()
    body = backend.call_action("backend", "report", timeout=7).body
    assert body["control"]["timeout"] == 7
    assert before + 7 <= body["control"]["deadline"] <= time.time() + 7
    assert 5 < body["time_left"] <= 7
    assert body["deadline"] == pytest.approx(time.monotonic() + body["time_left"], abs=2)


def test_a_call_without_a_timeout_sends_no_deadline(backend: Client) -> None:
    body = backend.call_action("backend", "report").body
    assert "deadline" not in body["control"]
    assert "timeout" not in body["control"]
    assert (body["deadline"], body["time_left"]) == (None, None)


# --- refusing expired work --------------------------------------------------------------------------------------------


def test_a_job_whose_deadline_passed_is_refused_not_run(backend: Client) -> None:
    with pytest.raises(CallJobError) as caught:
        backend.call_action("backend", "report", control_extra={"deadline": time.time() - 5}, timeout=10)
    [error] = caught.value.errors
    assert error.code == ERROR_CODE_DEADLINE_EXCEEDED
    assert "was not run" in (error.message or "")
    assert error.is_caller_error is False
    assert RUNS.get("report", 0) == 0


def test_actions_whose_turn_comes_after_the_deadline_are_not_run(backend: Client) -> None:
    response = backend.call_actions(
        "backend",
        [{"action": "use_up_the_deadline"}, {"action": "report"}, {"action": "report"}],
        control_extra={"deadline": time.time() + 1.0},
        continue_on_error=True,
        raise_action_errors=False,
        timeout=10,
    )
    first, second = response.actions  # the job stops at the first refused action, even with continue_on_error
    assert first.errors == []
    assert [e.code for e in second.errors] == [ERROR_CODE_DEADLINE_EXCEEDED]
    assert RUNS == {"use_up_the_deadline": 1}


def test_an_invalid_deadline_is_a_clear_job_error(backend: Client) -> None:
    with pytest.raises(CallJobError) as caught:
        backend.call_action("backend", "report", control_extra={"deadline": "soon"})
    [error] = caught.value.errors
    assert (error.code, error.field) == ("INVALID", "control.deadline")
    assert RUNS.get("report", 0) == 0


# --- across hops ------------------------------------------------------------------------------------------------------


def test_a_nested_call_without_a_timeout_inherits_the_remaining_budget(front: Client) -> None:
    body = front.call_action("front", "call_report", timeout=4).body
    nested = body["backend"]
    assert 2 < nested["control"]["timeout"] <= 4 - CALL_MARGIN_SECONDS
    assert nested["time_left"] <= body["my_time_left"]
    assert nested["control"]["deadline"] <= time.time() + 4


def test_a_nested_calls_own_longer_timeout_is_capped_by_the_budget(front: Client) -> None:
    body = front.call_action("front", "call_report", {"timeout": 60}, timeout=3).body
    assert 1 < body["backend"]["control"]["timeout"] <= 3 - CALL_MARGIN_SECONDS


def test_a_nested_calls_own_shorter_timeout_is_kept(front: Client) -> None:
    body = front.call_action("front", "call_report", {"timeout": 2}, timeout=30).body
    assert body["backend"]["control"]["timeout"] == 2


def test_a_nested_call_of_a_job_without_deadline_keeps_its_own_timeout(front: Client) -> None:
    body = front.call_action("front", "call_report", {"timeout": 9}).body
    assert body["backend"]["control"]["timeout"] == 9
    assert front.call_action("front", "call_report").body["backend"]["time_left"] is None


def test_a_nested_call_with_no_time_left_fails_without_sending(front: Client) -> None:
    body = front.call_action("front", "call_backend_without_time", timeout=1.0).body
    assert body["refused"] is not None
    assert "No time left for a call to 'backend'" in body["refused"]
    assert "report" not in RUNS


def test_with_deadline_caps_calls_of_any_client(backend: Client) -> None:
    limited = backend.with_deadline(time.monotonic() + 3)
    assert limited.deadline is not None
    assert backend.deadline is None
    body = limited.call_action("backend", "report", timeout=20).body
    assert 1 < body["control"]["timeout"] <= 3 - CALL_MARGIN_SECONDS
    with pytest.raises(MessageReceiveTimeout):
        backend.with_deadline(time.monotonic()).call_actions_parallel("backend", [{"action": "report"}])
    assert RUNS == {"report": 1}


def test_parallel_calls_with_no_time_left_can_be_caught_per_job(backend: Client) -> None:
    late = backend.with_deadline(time.monotonic() - 1)
    results = list(
        late.call_actions_parallel("backend", [{"action": "report"}, {"action": "report"}], catch_transport_errors=True)
    )
    assert [type(r) for r in results] == [MessageReceiveTimeout, MessageReceiveTimeout]
    assert "report" not in RUNS


def test_a_request_sent_without_waiting_for_a_reply_is_not_bound_by_the_deadline(backend: Client) -> None:
    late = backend.with_deadline(time.monotonic() - 1)
    late.send_request("backend", [{"action": "report"}], suppress_response=True)
    assert RUNS == {"report": 1}
    with pytest.raises(MessageReceiveTimeout):
        late.send_request("backend", [{"action": "report"}])


# --- clock skew -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("control", "expected_left"),
    [
        ({"timeout": 5, "deadline": 1000.0 + 5}, 5.0),  # clocks agree
        ({"timeout": 5, "deadline": 1000.0 + 3}, 3.0),  # 2 s spent in a queue (or this clock is 2 s ahead)
        ({"timeout": 5, "deadline": 1000.0 + 3600}, 5.0),  # this clock is an hour behind: capped by the budget
        ({"timeout": 5, "deadline": 1000.0 - 1}, -1.0),  # passed
        ({"timeout": 5}, 5.0),  # a PySOA caller: the budget counts from receipt
        ({"deadline": 1000.0 + 2}, 2.0),
        ({"timeout": 0, "deadline": 1000.0 + 2}, 2.0),  # zero timeout means none, as in PySOA
        ({"timeout": "5", "deadline": float("nan")}, None),  # not finite numbers: ignored
        ({"timeout": True}, None),
        ({}, None),
    ],
)
def test_the_job_deadline_is_the_smaller_of_clock_and_budget(
    control: dict[str, Any], expected_left: float | None
) -> None:
    deadline = job_deadline(control, now_monotonic=50.0, now_wall=1000.0)
    assert (None if deadline is None else deadline - 50.0) == expected_left
