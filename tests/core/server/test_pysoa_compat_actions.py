"""PySOA 1.4 code keeps working: attrs request/response types, request_class subclasses,
call_local_action, introspection of switched actions, the status action's client check, and
abstract base actions."""

from __future__ import annotations

import socket
from typing import Any

import attr
import pytest

from pysoa.common.types import ActionRequest, ActionResponse, Error, JobRequest, JobResponse
from pysoa.errors import ActionError
from pysoa.server import Server
from pysoa.server.action import Action
from pysoa.server.action.status import BaseStatusAction, StatusActionFactory
from pysoa.server.action.switched import SwitchedAction
from pysoa.server.middleware import ServerMiddleware
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest
from tests.core.services import ExampleServer, FailAction, JobFailAction, local_client

# --- the data types are attrs classes ---------------------------------------------------------------------------

PUBLIC_TYPES = [
    ActionRequest,
    ActionResponse,
    JobRequest,
    JobResponse,
    Error,
    EnrichedActionRequest,
    EnrichedJobRequest,
]


@pytest.mark.parametrize("cls", PUBLIC_TYPES)
def test_public_types_are_slotted_attrs_classes(cls: type) -> None:
    assert attr.has(cls)
    instance = cls("a") if issubclass(cls, ActionRequest | ActionResponse) else cls()
    assert not hasattr(instance, "__dict__")  # slotted: as small and fast as before


def test_enriched_requests_are_requests() -> None:
    assert isinstance(EnrichedActionRequest("a"), ActionRequest)
    assert isinstance(EnrichedJobRequest(), JobRequest)


def test_asdict_gives_the_wire_form() -> None:
    response = JobResponse(
        errors=[{"code": "X", "message": "m"}],
        context={"correlation_id": "c"},
        actions=[{"action": "a", "errors": [Error(code="Y", field="f", is_caller_error=True)], "body": {"n": 1}}],
    )
    assert attr.asdict(response) == response.to_dict()
    assert list(attr.asdict(Error())) == [
        "code",
        "message",
        "field",
        "traceback",
        "variables",
        "denied_permissions",
        "is_caller_error",
    ]
    request = JobRequest({"continue_on_error": False}, {"switches": [1]}, [{"action": "a", "body": {"x": 1}}])
    assert attr.asdict(request) == request.to_dict()


def test_evolve_converts_as_the_constructor_does() -> None:
    response = attr.evolve(ActionResponse("a", body={"n": 1}), errors=[{"code": "X"}])
    assert response == ActionResponse("a", errors=[Error(code="X")], body={"n": 1})
    error = attr.evolve(Error(code="X", message="m"), is_caller_error=True)
    assert error == Error(code="X", message="m", is_caller_error=True)
    with pytest.raises(attr.exceptions.FrozenInstanceError):
        error.code = "Y"  # type: ignore[misc]


def test_is_caller_error_carries_its_version_metadata() -> None:
    assert attr.fields(Error).is_caller_error.metadata["added_in_version"] == (0, 70, 0)


# --- request_class: an @attr.s subclass adding attr.ib fields ----------------------------------------------------


@attr.s
class UserRequest(EnrichedActionRequest):
    user: Any = attr.ib(default=None)


class UserMiddleware(ServerMiddleware):
    """Sets the request's extra field, as PySOA-era authentication middleware did."""

    def action(self, process_action: Any) -> Any:
        def handler(request: UserRequest) -> ActionResponse:
            request.user = request.context.get("user_token", "").upper()
            response: ActionResponse = process_action(request)
            return response

        return handler


def who(request: UserRequest) -> dict[str, Any]:
    assert isinstance(request, UserRequest)
    return {"user": request.user, "action": request.action}


def who_locally(request: UserRequest) -> dict[str, Any]:
    return request.call_local_action("who", {}).body


class UserServer(Server):
    service_name = "users"
    request_class = UserRequest
    action_class_map = {"who": who, "who_locally": who_locally}


def test_a_request_class_with_extra_attrs_fields_reaches_actions_and_local_calls() -> None:
    client = local_client(UserServer, {"middleware": [{"path": f"{__name__}:UserMiddleware"}]})
    direct = client.call_action("users", "who", context={"user_token": "ann"}).body
    assert direct == {"user": "ANN", "action": "who"}
    # call_local_action runs no middleware: the copy keeps the subclass's field as it was.
    local = client.call_action("users", "who_locally", context={"user_token": "bob"}).body
    assert local == {"user": "BOB", "action": "who"}


# --- call_local_action without a server --------------------------------------------------------------------------


def test_call_local_action_without_a_server_is_a_server_error() -> None:
    request = EnrichedActionRequest("outer", {})
    with pytest.raises(ActionError) as raised:
        request.call_local_action("square", {"number": 2})
    assert [(e.code, e.is_caller_error) for e in raised.value.errors] == [("SERVER_ERROR", False)]
    response = request.call_local_action("square", {"number": 2}, raise_action_errors=False)
    assert response.action == "square"
    assert [(e.code, e.is_caller_error) for e in response.errors] == [("SERVER_ERROR", False)]


# --- introspection of switched actions ---------------------------------------------------------------------------


class First(Action):
    """The first variant."""

    def run(self, request: Any) -> dict[str, Any]:
        return {}


class Second(Action):
    """The second variant."""

    def run(self, request: Any) -> dict[str, Any]:
        return {}


class ImplicitDefault(SwitchedAction):
    switch_to_action_map = ((5, First), (7, Second))  # no DEFAULT_ACTION: the last pair is the default


class ExplicitDefault(SwitchedAction):
    switch_to_action_map = ((SwitchedAction.DEFAULT_ACTION, First), (7, Second))


class SwitchingServer(Server):
    service_name = "switching"
    action_class_map = {"implicit": ImplicitDefault, "explicit": ExplicitDefault, "plain": First}


def _introspect(action_name: str) -> dict[str, str | None]:
    body = local_client(SwitchingServer).call_action("switching", "introspect", {"action_name": action_name}).body
    assert body["action_names"] == sorted(body["actions"])
    return {name: description["documentation"] for name, description in body["actions"].items()}


def test_introspecting_a_switched_actions_bare_name_lists_every_variant() -> None:
    assert _introspect("implicit") == {
        "implicit[switch:5]": "The first variant.",
        "implicit[DEFAULT]": "The second variant.",
    }
    assert _introspect("explicit") == {
        "explicit[DEFAULT]": "The first variant.",
        "explicit[switch:7]": "The second variant.",
    }


def test_introspecting_the_implicit_defaults_switch_names_that_variant() -> None:
    assert _introspect("implicit[switch:7]") == {"implicit[switch:7]": "The second variant."}
    assert _introspect("implicit[switch:5]") == {"implicit[switch:5]": "The first variant."}
    assert _introspect("implicit[DEFAULT]") == {"implicit[DEFAULT]": "The second variant."}


def test_introspecting_a_switch_describes_the_variant_that_would_run() -> None:
    # Switch 8 matches no pair, so the explicit default runs.
    assert _introspect("explicit[switch:8]") == {"explicit[switch:8]": "The first variant."}
    assert _introspect("explicit[DEFAULT]") == {"explicit[DEFAULT]": "The first variant."}


@pytest.mark.parametrize("action_name", ["nope", "plain[switch:1]", "nope[switch:1]", "implicit[switch:x]"])
def test_introspecting_an_unknown_action_is_invalid(action_name: str) -> None:
    response = local_client(SwitchingServer).call_action(
        "switching", "introspect", {"action_name": action_name}, raise_action_errors=False
    )
    assert [(e.code, e.field, e.message) for e in response.errors] == [
        ("INVALID", "action_name", "Action not defined in service")
    ]


def test_introspecting_everything_still_lists_variants_not_bare_names() -> None:
    names = local_client(SwitchingServer).call_action("switching", "introspect").body["action_names"]
    assert "implicit" not in names
    assert {"implicit[DEFAULT]", "implicit[switch:5]", "explicit[DEFAULT]", "explicit[switch:7]", "plain"} <= set(names)


# --- the status action's client-settings check -------------------------------------------------------------------


class StatusFailServer(Server):
    service_name = "status_fail"
    action_class_map = {"status": FailAction}


class StatusJobFailServer(Server):
    service_name = "status_job_fail"
    action_class_map = {"status": JobFailAction}


class CheckingStatus(StatusActionFactory("2.0")):  # type: ignore[misc]
    check_client_settings = BaseStatusAction._check_client_settings


class HubServer(Server):
    service_name = "hub"
    action_class_map = {"status": CheckingStatus}


def _local(server_class: type[Server]) -> dict[str, Any]:
    return {"transport": {"name": "local", "kwargs": {"server_class": server_class, "server_settings": {}}}}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_status_checks_every_service_of_the_requests_client() -> None:
    unreachable = {
        "transport": {
            "name": "redis",
            "kwargs": {
                "backend_type": "redis.standard",
                "backend_layer_kwargs": {"hosts": [("127.0.0.1", _closed_port())]},
            },
        }
    }
    routing = {
        "example": _local(ExampleServer),
        "status_fail": _local(StatusFailServer),
        "status_job_fail": _local(StatusJobFailServer),
        "gone": unreachable,
    }
    body = local_client(HubServer, {"client_routing": routing}).call_action("hub", "status").body
    healthcheck = body["healthcheck"]
    assert set(healthcheck["diagnostics"]["services"]) == {"example"}
    assert set(healthcheck["diagnostics"]["services"]["example"]) == {"conformity", "pysoa", "python", "version"}
    errors = dict(healthcheck["errors"])
    assert set(errors) == {"STATUS_FAIL_STATUS_ERROR", "STATUS_JOB_FAIL_CALL_ERROR", "GONE_TRANSPORT_ERROR"}
    # PySOA described failures by the errors (or the exception) as text.
    assert errors["STATUS_FAIL_STATUS_ERROR"] == str(
        [Error(code="NOT_AUTHORIZED", message="No way", field="who", is_caller_error=True)]
    )
    assert errors["STATUS_FAIL_STATUS_ERROR"].startswith("[Error(code='NOT_AUTHORIZED', message='No way', field='who'")
    assert errors["STATUS_JOB_FAIL_CALL_ERROR"] == str([Error(code="ACCESS_DENIED", message="Go away")])
    assert errors["GONE_TRANSPORT_ERROR"]


def test_status_without_client_routing_checks_nothing() -> None:
    body = local_client(HubServer).call_action("hub", "status").body
    assert body["healthcheck"] == {"errors": [], "warnings": [], "diagnostics": {}}


# --- abstract base actions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("abstract", [Action, BaseStatusAction, SwitchedAction])
def test_abstract_base_actions_cannot_be_instantiated(abstract: type) -> None:
    with pytest.raises(TypeError):
        abstract()


def test_an_action_without_run_cannot_be_instantiated() -> None:
    class Incomplete(Action):
        pass

    with pytest.raises(TypeError, match="run"):
        Incomplete()  # type: ignore[abstract]  # what is tested: it cannot be built


def test_a_status_action_without_a_version_cannot_be_instantiated() -> None:
    class NoVersion(BaseStatusAction):
        pass

    with pytest.raises(TypeError, match="_version"):
        NoVersion()  # type: ignore[abstract]  # what is tested: it cannot be built

    class WithVersion(BaseStatusAction):
        @property
        def _version(self) -> str:
            return "3.1"

    assert WithVersion().run(EnrichedActionRequest("status", {"verbose": False}))["version"] == "3.1"
