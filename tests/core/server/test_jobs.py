"""Job and action processing: validation, errors, continue_on_error, built-in actions."""

from __future__ import annotations

from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.types import ActionResponse, Error, JobResponse
from pysoa.errors import CallActionError, CallJobError
from pysoa.server import BaseServer, Server
from tests.core.services import ExampleServer, local_client


@pytest.fixture
def client() -> Client:
    return local_client()


def valid_job(**overrides: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "control": {"continue_on_error": False},
        "context": {"correlation_id": "c1", "switches": []},
        "actions": [{"action": "square", "body": {"number": 3}}],
    }
    job.update(overrides)
    return job


@pytest.fixture
def server() -> Server:
    return ExampleServer({"transport": "local"})


def test_base_server_is_server() -> None:
    assert BaseServer is Server


def test_a_valid_job_runs(server: Server) -> None:
    response = server.process_job(valid_job())
    assert response.errors == []
    assert response.actions == [ActionResponse("square", body={"square": 9})]
    assert response.context == {"correlation_id": "c1"}


def test_empty_action_list_is_a_job_error(server: Server) -> None:
    response = server.process_job(valid_job(actions=[]))
    assert response.errors == [Error(code="INVALID", message="List is shorter than 1", field="actions")]
    assert response.actions == []


def test_missing_headers_are_job_errors(server: Server) -> None:
    response = server.process_job({"control": {}, "context": {}, "actions": [{"action": "square"}]})
    assert sorted((e.code, e.field) for e in response.errors) == [
        ("MISSING", "context.correlation_id"),
        ("MISSING", "context.switches"),
        ("MISSING", "control.continue_on_error"),
    ]
    assert all(e.is_caller_error is False for e in response.errors)


def test_wrong_types_and_extra_keys_are_job_errors(server: Server) -> None:
    response = server.process_job(
        valid_job(
            context={"correlation_id": "c", "switches": ["a"]},
            actions=[{"action": "square", "body": {"number": 1}, "extra": 1}],
        )
    )
    assert {(e.code, e.field) for e in response.errors} == {
        ("INVALID", "context.switches.0"),
        ("UNKNOWN", "actions.0"),
    }


def test_bool_is_not_an_int_switch(server: Server) -> None:
    response = server.process_job(valid_job(context={"correlation_id": "c", "switches": [True]}))
    assert [e.field for e in response.errors] == ["context.switches.0"]


def test_unknown_action(client: Client) -> None:
    with pytest.raises(CallActionError) as info:
        client.call_action("example", "nope")
    (error,) = info.value.actions[0].errors
    assert error == Error(
        code="UNKNOWN", message='The action "nope" was not found on this server.', field="action", is_caller_error=True
    )


def test_request_schema_errors_are_caller_errors(client: Client) -> None:
    response = client.call_action("example", "square", {"number": "x"}, raise_action_errors=False)
    assert [(e.code, e.field, e.is_caller_error) for e in response.errors] == [("INVALID", "number", True)]


def test_action_error_is_returned(client: Client) -> None:
    with pytest.raises(CallActionError) as info:
        client.call_action("example", "fail")
    assert info.value.actions[0].errors == [
        Error(code="NOT_AUTHORIZED", message="No way", field="who", is_caller_error=True)
    ]
    assert "fail" in str(info.value)


def test_job_error_from_an_action_fails_the_job(client: Client) -> None:
    with pytest.raises(CallJobError) as info:
        client.call_actions("example", [{"action": "square", "body": {"number": 1}}, {"action": "job_fail"}])
    assert info.value.errors == [Error(code="ACCESS_DENIED", message="Go away", is_caller_error=False)]


def test_unhandled_exception_is_a_server_error_with_traceback(client: Client) -> None:
    response = client.call_action("example", "crash", raise_action_errors=False)
    (error,) = response.errors
    assert error.code == "SERVER_ERROR"
    assert error.message == "Internal server error: boom"
    assert error.traceback is not None
    assert "ZeroDivisionError" in error.traceback
    assert error.is_caller_error is False


def test_invalid_response_body_is_a_server_error(client: Client) -> None:
    response = client.call_action("example", "bad_response", raise_action_errors=False)
    assert [e.code for e in response.errors] == ["SERVER_ERROR"]
    assert "bad_response had an invalid response" in (response.errors[0].message or "")


def test_actions_stop_at_the_first_error(client: Client) -> None:
    actions: list[dict[str, Any]] = [
        {"action": "square", "body": {"number": 2}},
        {"action": "fail"},
        {"action": "square", "body": {"number": 3}},
    ]
    response = client.call_actions("example", actions, raise_action_errors=False)
    assert [a.action for a in response.actions] == ["square", "fail"]


def test_continue_on_error_runs_every_action(client: Client) -> None:
    actions: list[dict[str, Any]] = [{"action": "fail"}, {"action": "square", "body": {"number": 3}}]
    response = client.call_actions("example", actions, raise_action_errors=False, continue_on_error=True)
    assert [a.action for a in response.actions] == ["fail", "square"]
    assert response.actions[1].body == {"square": 9}


def test_raise_job_errors_false_returns_the_errors(client: Client) -> None:
    errors = client.call_action("example", "job_fail", raise_job_errors=False)
    assert isinstance(errors, list)
    assert errors[0].code == "ACCESS_DENIED"


def test_response_too_large() -> None:
    client = local_client(maximum_message_size_in_bytes=2000)
    response = client.call_action("example", "big", {"size": 5000}, raise_action_errors=False, raise_job_errors=False)
    assert [e.code for e in response] == ["RESPONSE_TOO_LARGE"]


def test_response_not_serializable(client: Client) -> None:
    errors = client.call_action("example", "unserializable", raise_job_errors=False)
    assert [e.code for e in errors] == ["RESPONSE_NOT_SERIALIZABLE"]


def test_status_action(client: Client) -> None:
    body = client.call_action("example", "status").body
    assert set(body) == {"conformity", "pysoa", "python", "version", "healthcheck"}
    assert body["healthcheck"] == {"errors": [], "warnings": [], "diagnostics": {}}
    assert "healthcheck" not in client.call_action("example", "status", {"verbose": False}).body


def test_status_health_checks_report_errors_and_warnings() -> None:
    from pysoa.server.action.status import StatusActionFactory

    class Status(StatusActionFactory("1.2.3", build="b7")):  # type: ignore[misc]
        def check_disk(self, request: Any) -> list[tuple[bool, str, str]]:
            self.diagnostics["disk"] = "ok-ish"
            return [(False, "DISK_LOW", "Disk is 90% full")]

        def check_db(self, request: Any) -> list[tuple[bool, str, str]]:
            return [(True, "DB_DOWN", "Cannot reach the database")]

    class StatusServer(Server):
        service_name = "stat"
        action_class_map = {"status": Status}

    body = local_client(StatusServer).call_action("stat", "status").body
    assert body["version"] == "1.2.3"
    assert body["build"] == "b7"
    assert body["healthcheck"] == {
        "errors": [["DB_DOWN", "Cannot reach the database"]],
        "warnings": [["DISK_LOW", "Disk is 90% full"]],
        "diagnostics": {"disk": "ok-ish"},
    }


def test_introspect_all_actions(client: Client) -> None:
    body = client.call_action("example", "introspect").body
    assert body["documentation"] == "A service for tests."
    assert "square" in body["action_names"]
    assert "status" in body["action_names"]
    assert body["action_names"] == sorted(body["action_names"])
    square = body["actions"]["square"]
    assert square["documentation"] == "Squares a number."
    assert square["request_schema"]["type"] == "dictionary"
    assert square["request_schema"]["contents"]["number"] == {"type": "integer"}
    assert "versioned[switch:5]" in body["actions"]
    assert "versioned[DEFAULT]" in body["actions"]


def test_introspect_one_action(client: Client) -> None:
    body = client.call_action("example", "introspect", {"action_name": "square"}).body
    assert body["action_names"] == ["square"]
    assert set(body["actions"]) == {"square"}
    response = client.call_action("example", "introspect", {"action_name": "missing"}, raise_action_errors=False)
    assert [(e.code, e.field) for e in response.errors] == [("INVALID", "action_name")]


def test_switched_action_picks_by_switch(client: Client) -> None:
    assert client.call_action("example", "versioned").body == {"version": 1}
    assert client.call_action("example", "versioned", switches=[5]).body == {"version": 2}


def test_switched_action_map_is_validated() -> None:
    from pysoa.server.action.switched import SwitchedAction
    from tests.core.services import V1

    with pytest.raises(ValueError, match="at least two"):

        class Bad(SwitchedAction):
            switch_to_action_map = ((1, V1),)


def test_call_local_action() -> None:
    from pysoa.server.types import EnrichedActionRequest

    def outer(request: EnrichedActionRequest) -> dict[str, Any]:
        inner = request.call_local_action("square", {"number": request.body["n"]})
        missing = request.call_local_action("nope", raise_action_errors=False)
        return {"square": inner.body["square"], "missing": [e.code for e in missing.errors]}

    class LocalCallServer(ExampleServer):
        action_class_map = {**ExampleServer.action_class_map, "outer": outer}

    body = local_client(LocalCallServer).call_action("example", "outer", {"n": 4}).body
    assert body == {"square": 16, "missing": ["UNKNOWN"]}


def test_callable_factories_still_work() -> None:
    """PySOA's contract: an action_class_map value is called with the settings and returns the action."""

    def factory(settings: Any) -> Any:
        def run(request: Any) -> ActionResponse:
            return ActionResponse(request.action, body={"has_settings": settings is not None})

        return run

    class FactoryServer(ExampleServer):
        action_class_map = {"made": factory}

    assert local_client(FactoryServer).call_action("example", "made").body == {"has_settings": True}


def test_is_caller_error_left_out_for_old_clients(server: Server) -> None:
    sent: list[dict[str, Any]] = []

    class Recorder:
        def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
            sent.append(body)

    server.transport = Recorder()  # type: ignore[assignment]
    response = JobResponse(errors=[Error(code="X", message="m")])
    server._send_response(1, {}, response)
    server._send_response(2, {"client_version": [0, 69, 9]}, response)
    server._send_response(3, {"client_version": [1, 4, 9]}, response)
    assert "is_caller_error" not in sent[0]["errors"][0]
    assert "is_caller_error" not in sent[1]["errors"][0]
    assert sent[2]["errors"][0]["is_caller_error"] is False
    assert len(sent[2]["errors"][0]) == 7
