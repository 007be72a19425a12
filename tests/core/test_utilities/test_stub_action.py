"""``stub_action``: every way of using it, what the mock sees and returns, and stubbed actions mixed with real ones."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from unittest import mock

import pytest

from pysoa.client import Client
from pysoa.common.types import ActionResponse, Error, JobResponse
from pysoa.errors import (
    ActionError,
    CallActionError,
    CallJobError,
    JobError,
    MessageReceiveError,
    MessageReceiveTimeout,
)
from pysoa.test.stub_service import StubActionMock, get_stubbed_requests, get_stubbed_responses, stub_action
from tests.core.test_utilities import services
from tests.core.test_utilities.services import RECEIVED

ORIGINAL_SEND_JOB = vars(Client)["_send_job"]
ORIGINAL_SEND_REQUEST = vars(Client)["send_request"]
ORIGINAL_GET_ALL_RESPONSES = vars(Client)["get_all_responses"]


def _client_is_unpatched() -> bool:
    return (
        vars(Client)["_send_job"] is ORIGINAL_SEND_JOB
        and vars(Client)["send_request"] is ORIGINAL_SEND_REQUEST
        and vars(Client)["get_all_responses"] is ORIGINAL_GET_ALL_RESPONSES
    )


@pytest.fixture(autouse=True)
def _no_stub_leaks() -> Any:
    assert _client_is_unpatched()
    yield
    assert _client_is_unpatched(), "a stub was left active"


# --- usage forms -------------------------------------------------------------------------------------------------


@stub_action("calculator", "square", body={"square": 49})
def test_decorated_function_gets_the_mock_and_fixtures(stub_square: StubActionMock, client: Client) -> None:
    response = client.call_action("calculator", "square", {"number": 7})

    assert response.body == {"square": 49}
    stub_square.assert_called_once_with({"number": 7})
    assert RECEIVED == []  # the real server never saw it


@stub_action("calculator", "echo", body={"outer": True})
@mock.patch("tests.core.test_utilities.services.calculator_client")
@stub_action("calculator", "square", body={"square": 0})
def test_stacked_with_mock_patch_passes_mocks_in_decorator_order(
    stub_square: StubActionMock, patched_factory: mock.MagicMock, stub_echo: StubActionMock, client: Client
) -> None:
    assert isinstance(patched_factory, mock.MagicMock)
    assert services.calculator_client is patched_factory
    assert client.call_action("calculator", "square", {"number": 3}).body == {"square": 0}
    assert client.call_action("calculator", "echo", {"x": 1}).body == {"outer": True}
    assert (stub_square.call_count, stub_echo.call_count) == (1, 1)


class TestDecoratedMethods:
    @stub_action("calculator", "square", body={"square": 1})
    def test_method_gets_the_mock_after_self(self, stub_square: StubActionMock, client: Client) -> None:
        assert isinstance(self, TestDecoratedMethods)
        assert client.call_action("calculator", "square", {"number": 5}).body == {"square": 1}
        assert stub_square.call_body == {"number": 5}


@stub_action("calculator", "echo", body={"stubbed": True})
class TestDecoratedClass:
    calls: list[StubActionMock] = []

    def helper_is_not_wrapped(self) -> str:
        return "plain"

    def test_first(self, stub_echo: StubActionMock, client: Client) -> None:
        assert self.helper_is_not_wrapped() == "plain"
        assert client.call_action("calculator", "echo", {"n": 1}).body == {"stubbed": True}
        assert stub_echo.call_count == 1
        self.calls.append(stub_echo)

    @stub_action("calculator", "square", body={"square": -1})
    def test_second_with_its_own_stub_too(
        self, stub_square: StubActionMock, stub_echo: StubActionMock, client: Client
    ) -> None:
        # A fresh mock per test method: the first test's call is not counted here.
        assert stub_echo.call_count == 0
        client.call_action("calculator", "echo", {"n": 2})
        assert client.call_action("calculator", "square", {"number": 2}).body == {"square": -1}
        assert (stub_echo.call_count, stub_square.call_count) == (1, 1)
        assert all(mock_ is not stub_echo for mock_ in self.calls)


def test_context_manager_stubs_only_inside_the_block(client: Client) -> None:
    with stub_action("calculator", "square", body={"square": 100}) as stub_square:
        assert client.call_action("calculator", "square", {"number": 2}).body == {"square": 100}
    assert client.call_action("calculator", "square", {"number": 2}).body == {"square": 4}
    assert stub_square.call_count == 1
    assert RECEIVED == [("square", {"number": 2})]


def test_start_and_stop(client: Client) -> None:
    stub = stub_action("calculator", "square", body={"square": 8})
    assert not stub.enabled
    stub_square = stub.start()
    try:
        assert stub.enabled
        assert stub.is_local
        assert stub.mock is stub_square
        assert client.call_action("calculator", "square", {"number": 1}).body == {"square": 8}
        assert stub.start() is stub_square  # starting an active stub gives its mock
    finally:
        stub.stop()  # one stop ends it, however often it was started
    assert not stub.enabled
    stub.stop()  # stopping twice is harmless
    assert client.call_action("calculator", "square", {"number": 3}).body == {"square": 9}


def test_entering_an_active_stub_again_gives_the_same_mock(client: Client) -> None:
    stub = stub_action("calculator", "square", body={"square": 8})
    with stub as outer:
        with stub as inner:
            assert inner is outer
            client.call_action("calculator", "square", {"number": 1})
        # Still active until the outermost block ends.
        assert client.call_action("calculator", "square", {"number": 1}).body == {"square": 8}
        assert outer.call_count == 2
    assert not stub.enabled
    assert client.call_action("calculator", "square", {"number": 2}).body == {"square": 4}


def test_decorated_coroutine_function(client: Client) -> None:
    @stub_action("calculator", "square", body={"square": 2})
    async def run(stub_square: StubActionMock) -> Any:
        return client.call_action("calculator", "square", {"number": 9}).body, stub_square.call_count

    assert asyncio.run(run()) == ({"square": 2}, 1)  # type: ignore[call-arg]  # the decorator passes the mock


def test_a_decorated_function_stops_its_stub_when_it_raises(client: Client) -> None:
    @stub_action("calculator", "square")
    def broken(stub_square: StubActionMock) -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        broken()  # type: ignore[call-arg]  # the decorator passes the mock
    assert _client_is_unpatched()


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(TypeError, match="str"):
        stub_action("calculator", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Error or a dict"):
        stub_action("calculator", "square", errors=["NOT_FOUND"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="function or a class"):
        stub_action("calculator", "square")(42)  # type: ignore[type-var]


# --- what the mock sees and returns --------------------------------------------------------------------------------


def test_call_body_and_call_bodies(client: Client) -> None:
    with stub_action("calculator", "square") as stub_square:
        assert stub_square.call_body is None
        assert not stub_square.call_bodies
        client.call_action("calculator", "square", {"number": 1})
        client.call_action("calculator", "square", {"number": 2})
    assert stub_square.call_body == {"number": 2}
    assert stub_square.call_bodies == ({"number": 1}, {"number": 2})


def test_default_body_is_empty_and_return_value_can_be_set_later(client: Client) -> None:
    with stub_action("calculator", "square") as stub_square:
        assert client.call_action("calculator", "square", {"number": 1}).body == {}
        stub_square.return_value = {"square": 5}
        assert client.call_action("calculator", "square", {"number": 1}).body == {"square": 5}


def test_changing_a_response_does_not_change_the_next_one(client: Client) -> None:
    with stub_action("calculator", "square", body={"square": {"nested": 1}}):
        first = client.call_action("calculator", "square", {"number": 1})
        first.body["square"]["nested"] = 2
        assert client.call_action("calculator", "square", {"number": 1}).body == {"square": {"nested": 1}}


def test_errors_come_back_exactly_as_given(client: Client) -> None:
    errors: list[dict[str, Any] | Error] = [
        {"code": "NOT_FOUND", "message": "Nothing", "field": "number"},
        Error(code="LIMIT", message="Too many"),
        Error(code="BAD", message="Yours", is_caller_error=True),
    ]
    with stub_action("calculator", "square", errors=errors) as stub_square, pytest.raises(CallActionError) as exc:
        client.call_action("calculator", "square", {"number": 1})
    failed = exc.value.actions[0]
    assert failed.action == "square"
    assert failed.errors == [
        Error(code="NOT_FOUND", message="Nothing", field="number"),
        Error(code="LIMIT", message="Too many"),
        Error(code="BAD", message="Yours", is_caller_error=True),
    ]
    # As in PySOA, body and errors are the mock's return value.
    assert stub_square.return_value == ActionResponse("square", errors=failed.errors, body={})


def test_side_effect_function_gets_the_body(client: Client) -> None:
    with stub_action("calculator", "square", side_effect=lambda body: {"square": body["number"] * 10}):
        assert client.call_action("calculator", "square", {"number": 4}).body == {"square": 40}


def test_side_effect_returning_action_response(client: Client) -> None:
    response = ActionResponse("square", errors=[Error(code="SOFT", message="Meh")], body={"square": 1})
    with stub_action("calculator", "square", side_effect=lambda body: response):
        result = client.call_action("calculator", "square", {"number": 4}, raise_action_errors=False)
    assert result.body == {"square": 1}
    assert result.errors[0].code == "SOFT"


def test_side_effect_returning_job_response(client: Client) -> None:
    with stub_action("calculator", "square", side_effect=lambda body: JobResponse(actions=[ActionResponse("square")])):
        assert client.call_action("calculator", "square", {"number": 4}).body == {}
    job_failure = JobResponse(errors=[Error(code="JOB_BAD", message="No")])
    with stub_action("calculator", "square", side_effect=lambda body: job_failure), pytest.raises(CallJobError) as exc:
        client.call_action("calculator", "square", {"number": 4})
    assert exc.value.errors[0].code == "JOB_BAD"


def test_side_effect_raising_action_error_and_job_error(client: Client) -> None:
    with stub_action("calculator", "square", side_effect=ActionError([Error(code="NOPE", message="no")])):
        with pytest.raises(CallActionError) as action_exc:
            client.call_action("calculator", "square", {"number": 4})
        assert action_exc.value.actions[0].errors[0].code == "NOPE"
    with stub_action("calculator", "square", side_effect=JobError([Error(code="DOWN", message="down")])):
        errors = client.call_action("calculator", "square", {"number": 4}, raise_job_errors=False)
    assert [e.code for e in errors] == ["DOWN"]


@pytest.mark.parametrize("error_class", [MessageReceiveError, MessageReceiveTimeout])
def test_side_effect_raising_transport_errors(client: Client, error_class: type[Exception]) -> None:
    with stub_action("calculator", "square", side_effect=error_class("lost")):
        future = client.call_action_future("calculator", "square", {"number": 1})  # sending works
        with pytest.raises(error_class, match="lost"):
            future.result()


def test_side_effect_returning_default_gives_the_body(client: Client) -> None:
    seen: list[Any] = []

    def spy(body: dict[str, Any]) -> Any:
        seen.append(body)
        return mock.DEFAULT

    with stub_action("calculator", "square", body={"square": 3}, side_effect=spy):
        assert client.call_action("calculator", "square", {"number": 4}).body == {"square": 3}
    assert seen == [{"number": 4}]


def test_side_effect_iterable_answers_successive_calls(client: Client) -> None:
    with stub_action("calculator", "square", side_effect=[{"square": 1}, ActionError([Error(code="X")])]):
        assert client.call_action("calculator", "square", {"number": 1}).body == {"square": 1}
        with pytest.raises(CallActionError):
            client.call_action("calculator", "square", {"number": 1})


def test_a_mock_returning_nonsense_fails_the_call(client: Client) -> None:
    with stub_action("calculator", "square", side_effect=lambda body: 42), pytest.raises(TypeError, match="body dict"):
        client.call_action("calculator", "square", {"number": 1})


# --- stubbed and real actions in one job ----------------------------------------------------------------------------


def _job(*names: str) -> list[dict[str, Any]]:
    return [{"action": name, "body": {"number": index}} for index, name in enumerate(names)]


def test_mixed_job_runs_real_actions_on_the_server_and_keeps_the_order(client: Client) -> None:
    with stub_action("calculator", "echo", body={"stubbed": True}) as stub_echo:
        response = client.call_actions("calculator", _job("square", "echo", "square", "square", "echo"))

    assert [a.action for a in response.actions] == ["square", "echo", "square", "square", "echo"]
    assert [a.body for a in response.actions] == [
        {"square": 0},
        {"stubbed": True},
        {"square": 4},
        {"square": 9},
        {"stubbed": True},
    ]
    assert RECEIVED == [("square", {"number": 0}), ("square", {"number": 2}), ("square", {"number": 3})]
    assert stub_echo.call_bodies == ({"number": 1}, {"number": 4})


def test_response_context_is_the_real_jobs_or_empty_when_all_actions_are_stubbed(client: Client) -> None:
    with stub_action("calculator", "echo", body={"stubbed": True}):
        mixed = client.call_actions("calculator", _job("square", "echo"), correlation_id="corr-1")
        stubbed = client.call_actions("calculator", _job("echo", "echo"), correlation_id="corr-2")
    real = client.call_actions("calculator", _job("square"), correlation_id="corr-3")
    assert mixed.context == {**real.context, "correlation_id": "corr-1"}
    assert mixed.context["correlation_id"] == "corr-1"
    assert stubbed.context == {}  # as PySOA: a job no server ran has no context


def test_mixed_job_stops_after_a_stubbed_error(client: Client) -> None:
    with (
        stub_action("calculator", "echo", errors=[{"code": "STOP", "message": "stop"}]),
        stub_action("calculator", "square") as stub_square,
    ):
        response = client.call_actions(
            "calculator", _job("refuse", "echo", "square", "refuse"), raise_action_errors=False
        )
    # refuse (real) failed first: nothing after it ran.
    assert [a.action for a in response.actions] == ["refuse"]
    assert stub_square.call_count == 0

    RECEIVED.clear()
    with stub_action("calculator", "echo", errors=[{"code": "STOP", "message": "stop"}]) as stub_echo:
        response = client.call_actions("calculator", _job("square", "echo", "square"), raise_action_errors=False)
    assert [a.action for a in response.actions] == ["square", "echo"]
    assert response.actions[1].errors[0].code == "STOP"
    assert stub_echo.call_count == 1
    assert RECEIVED == [("square", {"number": 0})]  # the real square after the failed echo was not sent


def test_mixed_job_with_continue_on_error_runs_everything(client: Client) -> None:
    with stub_action("calculator", "echo", errors=[{"code": "STOP", "message": "stop"}]) as stub_echo:
        response = client.call_actions(
            "calculator",
            _job("refuse", "echo", "square", "echo"),
            continue_on_error=True,
            raise_action_errors=False,
        )
    assert [(a.action, bool(a.errors)) for a in response.actions] == [
        ("refuse", True),
        ("echo", True),
        ("square", False),
        ("echo", True),
    ]
    assert stub_echo.call_count == 2
    assert [action for action, _ in RECEIVED] == ["refuse", "square"]


def test_mocks_are_called_when_the_job_is_sent(client: Client) -> None:
    # As in PySOA: a stub after a failing real action is called, though its response is dropped with
    # everything after the failure.
    with stub_action("calculator", "echo", body={"e": 1}) as stub_echo:
        response = client.call_actions("calculator", _job("refuse", "echo", "square"), raise_action_errors=False)
        future = client.call_actions_future("calculator", _job("echo"))
        assert stub_echo.call_count == 2  # before the future is waited for
        assert [a.body for a in future.result().actions] == [{"e": 1}]
    assert [a.action for a in response.actions] == ["refuse"]
    assert [action for action, _ in RECEIVED] == ["refuse"]  # sent with square; the server stopped after refuse


def test_side_effects_are_consumed_in_the_order_jobs_are_sent(client: Client) -> None:
    with stub_action("calculator", "echo", side_effect=[{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]):
        first = client.call_actions_future("calculator", _job("square", "echo"))
        second = client.call_actions_future("calculator", _job("echo", "square", "echo"))
        # Waited for in the opposite order: the answers still follow the order of sending.
        assert [a.body for a in second.result().actions] == [{"n": 2}, {"square": 1}, {"n": 3}]
        assert [a.body for a in first.result().actions] == [{"square": 0}, {"n": 1}]
        jobs = client.call_jobs_parallel(
            [
                {"service_name": "calculator", "actions": _job("square", "square", "echo")},
                {"service_name": "calculator", "actions": _job("square")},
            ]
        )
    assert [a.body for a in jobs[0].actions] == [{"square": 0}, {"square": 1}, {"n": 4}]


def test_a_stubbed_job_error_ends_the_job(client: Client) -> None:
    with stub_action("calculator", "echo", side_effect=JobError([Error(code="DOWN")])), pytest.raises(CallJobError):
        client.call_actions("calculator", _job("square", "echo", "square"))
    assert [action for action, _ in RECEIVED] == ["square"]


def test_real_requests_keep_the_jobs_context_and_control(client: Client) -> None:
    def spy(request: Any) -> dict[str, Any]:
        return {"correlation_id": request.context["correlation_id"], "switches": sorted(request.switches)}

    services.CalculatorServer.action_class_map = {**services.CalculatorServer.action_class_map, "spy": spy}
    try:
        with stub_action("calculator", "echo"):
            response = client.call_actions(
                "calculator",
                [{"action": "echo"}, {"action": "spy"}],
                correlation_id="corr-9",
                switches=[3, 1],
            )
    finally:
        del services.CalculatorServer.action_class_map["spy"]
    assert response.actions[1].body == {"correlation_id": "corr-9", "switches": [1, 3]}


# --- nesting -----------------------------------------------------------------------------------------------------


def test_two_stubs_at_once_and_the_inner_one_wins_for_the_same_action(client: Client) -> None:
    with stub_action("calculator", "square", body={"square": "outer"}) as outer:
        with (
            stub_action("calculator", "echo", body={"echo": "stub"}),
            stub_action("calculator", "square", body={"square": "inner"}) as inner,
        ):
            assert client.call_action("calculator", "square", {"number": 1}).body == {"square": "inner"}
            assert client.call_action("calculator", "echo", {}).body == {"echo": "stub"}
        assert client.call_action("calculator", "square", {"number": 1}).body == {"square": "outer"}
        assert client.call_action("calculator", "echo", {"real": 1}).body == {"real": 1}
    assert (outer.call_count, inner.call_count) == (1, 1)


def test_stubs_stopped_out_of_order_restore_the_client(client: Client) -> None:
    first = stub_action("calculator", "square", body={"square": 1})
    second = stub_action("calculator", "echo", body={"echo": 2})
    first.start()
    second.start()
    first.stop()
    assert client.call_action("calculator", "square", {"number": 3}).body == {"square": 9}
    assert client.call_action("calculator", "echo", {}).body == {"echo": 2}
    assert not _client_is_unpatched()
    second.stop()


def test_a_stubbed_service_needs_no_configuration() -> None:
    bare = Client({})
    with stub_action("nowhere", "anything", body={"ok": True}):
        assert bare.call_action("nowhere", "anything").body == {"ok": True}


# --- every call method ---------------------------------------------------------------------------------------------


def test_stubbed_bodies_are_recorded_for_contract_tests(client: Client) -> None:
    requests, responses = get_stubbed_requests(), get_stubbed_responses()
    before = (len(requests), len(responses))
    with stub_action("calculator", "echo", body={"e": 1}):
        client.call_action("calculator", "echo", {"q": 1})
    with stub_action("calculator", "echo", register_request_schema_contract=False):
        client.call_action("calculator", "echo", {"q": 2})
    with stub_action("calculator", "echo", register_response_schema_contract=False):
        client.call_action("calculator", "echo", {"q": 3})
    assert requests[before[0] :] == [
        {"service": "calculator", "action": "echo", "body": {"q": 1}},
        {"service": "calculator", "action": "echo", "body": {"q": 3}},
    ]
    assert responses[before[1] :] == [
        {"service": "calculator", "action": "echo", "body": {"e": 1}},
        {"service": "calculator", "action": "echo", "body": {}},
    ]


def test_call_actions_parallel_with_stubs(client: Client) -> None:
    with stub_action("calculator", "echo", side_effect=lambda body: {"echoed": body}):
        responses = list(
            client.call_actions_parallel(
                "calculator",
                [{"action": "square", "body": {"number": 5}}, {"action": "echo", "body": {"a": 1}}],
            )
        )
    assert [r.body for r in responses] == [{"square": 25}, {"echoed": {"a": 1}}]


def test_call_jobs_parallel_with_stubs_and_caught_transport_errors(client: Client) -> None:
    with (
        stub_action("calculator", "echo", side_effect=MessageReceiveError("gone")),
        stub_action("other", "thing", body={"thing": 1}),
    ):
        results = client.call_jobs_parallel(
            [
                {"service_name": "calculator", "actions": [{"action": "square", "body": {"number": 2}}]},
                {"service_name": "calculator", "actions": [{"action": "echo"}]},
                {"service_name": "other", "actions": [{"action": "thing"}]},
            ],
            catch_transport_errors=True,
        )
    assert results[0].actions[0].body == {"square": 4}
    assert isinstance(results[1], MessageReceiveError)
    assert results[2].actions[0].body == {"thing": 1}


def test_futures_with_stubs(client: Client) -> None:
    with stub_action("calculator", "echo", body={"e": 1}):
        future = client.call_actions_future("calculator", _job("square", "echo"))
        assert [a.body for a in future.result().actions] == [{"square": 0}, {"e": 1}]
        assert future.done()


def test_send_request_and_get_all_responses_with_stubs(client: Client) -> None:
    with stub_action("calculator", "echo", body={"e": 1}):
        mixed = client.send_request("calculator", _job("echo", "square"))
        real = client.send_request("calculator", _job("square"))
        responses = dict(client.get_all_responses("calculator"))
    assert set(responses) == {mixed, real}
    assert [a.body for a in responses[mixed].actions] == [{"e": 1}, {"square": 1}]
    assert [a.body for a in responses[real].actions] == [{"square": 0}]
    assert list(client.get_all_responses("calculator")) == []


def test_send_request_with_suppressed_response(client: Client) -> None:
    with stub_action("calculator", "echo") as stub_echo:
        client.send_request("calculator", _job("echo", "square"), suppress_response=True)
        assert list(client.get_all_responses("calculator")) == []
        # Nothing is left waiting: the next call works at once.
        assert client.call_action("calculator", "square", {"number": 6}).body == {"square": 36}
    assert stub_echo.call_count == 1
    assert RECEIVED == [("square", {"number": 1}), ("square", {"number": 6})]


def test_stubs_reach_calls_a_server_makes_through_request_client(client: Client) -> None:
    with stub_action("helper", "lookup", side_effect=lambda body: {"value": body["key"].upper()}) as stub_lookup:
        response = client.call_action("calculator", "ask_helper", {"key": "abc"})
    assert response.body == {"helper_said": {"value": "ABC"}}
    assert stub_lookup.call_body == {"key": "abc"}


def test_stubs_work_from_several_threads(client: Client) -> None:
    results: list[Any] = []
    with stub_action("calculator", "echo", side_effect=lambda body: {"thread": body["n"]}) as stub_echo:

        def call(n: int) -> None:
            results.append(client.call_action("calculator", "echo", {"n": n}).body["thread"])

        threads = [threading.Thread(target=call, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == list(range(8))
    assert stub_echo.call_count == 8
