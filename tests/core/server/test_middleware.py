"""Client and server middleware: order (outermost first), wrapping, and errors they raise."""

from __future__ import annotations

from typing import Any

import pytest
from conformity import fields

from pysoa.client import Client
from pysoa.client.middleware import ClientMiddleware
from pysoa.common.types import Error
from pysoa.errors import CallJobError, JobError
from pysoa.plugins import PluginManager, hookimpl, set_plugin_manager
from pysoa.server.middleware import ServerMiddleware
from tests.core.services import ExampleServer

calls: list[str] = []


class RecordingServerMiddleware(ServerMiddleware):
    name = "recording"
    settings_schema = fields.Dictionary({"label": fields.UnicodeString()}, optional_keys=("label",))

    def __init__(self, label: str = "") -> None:
        self.label = label

    def job(self, process_job: Any) -> Any:
        def wrapper(request: Any) -> Any:
            calls.append(f"{self.label}:job:before")
            response = process_job(request)
            calls.append(f"{self.label}:job:after")
            return response

        return wrapper

    def action(self, process_action: Any) -> Any:
        def wrapper(request: Any) -> Any:
            calls.append(f"{self.label}:action:{request.action}")
            return process_action(request)

        return wrapper


class DenyingMiddleware(ServerMiddleware):
    def job(self, process_job: Any) -> Any:
        def wrapper(request: Any) -> Any:
            if request.context.get("user") != "admin":
                raise JobError([Error(code="NOT_AUTHORIZED", message="admins only")])
            return process_job(request)

        return wrapper


class CrashingMiddleware(ServerMiddleware):
    def job(self, process_job: Any) -> Any:
        def wrapper(request: Any) -> Any:
            raise RuntimeError("middleware bug")

        return wrapper


class RecordingClientMiddleware(ClientMiddleware):
    name = "client-recording"
    settings_schema = fields.Dictionary({"label": fields.UnicodeString()}, optional_keys=("label",))

    def __init__(self, label: str = "") -> None:
        self.label = label

    def request(self, send_request: Any) -> Any:
        def wrapper(request_id: Any, meta: dict[str, Any], job_request: Any, expiry: Any) -> None:
            calls.append(f"{self.label}:request")
            meta[f"mw_{self.label}"] = True
            job_request.context["stamped_by_" + self.label] = True
            send_request(request_id, meta, job_request, expiry)

        return wrapper

    def response(self, get_response: Any) -> Any:
        def wrapper(timeout: Any) -> Any:
            request_id, response = get_response(timeout)
            calls.append(f"{self.label}:response")
            return request_id, response

        return wrapper


def path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def client_with(server_middleware: list[Any], client_middleware: list[Any] | None = None) -> Client:
    return Client(
        {
            "example": {
                "transport": {
                    "name": "local",
                    "kwargs": {"server_class": ExampleServer, "server_settings": {"middleware": server_middleware}},
                },
                "middleware": client_middleware or [],
            }
        }
    )


@pytest.fixture(autouse=True)
def _clear() -> None:
    calls.clear()


def test_server_middleware_runs_outermost_first() -> None:
    client = client_with(
        [
            {"path": path(RecordingServerMiddleware), "kwargs": {"label": "outer"}},
            {"path": path(RecordingServerMiddleware), "kwargs": {"label": "inner"}},
        ]
    )
    client.call_actions("example", [{"action": "echo"}, {"action": "square", "body": {"number": 2}}])
    assert calls == [
        "outer:job:before",
        "inner:job:before",
        "outer:action:echo",
        "inner:action:echo",
        "outer:action:square",
        "inner:action:square",
        "inner:job:after",
        "outer:job:after",
    ]


def test_client_middleware_wraps_send_and_receive_in_order() -> None:
    client = client_with(
        [],
        [
            {"path": path(RecordingClientMiddleware), "kwargs": {"label": "a"}},
            {"path": path(RecordingClientMiddleware), "kwargs": {"label": "b"}},
        ],
    )
    body = client.call_action("example", "context").body
    assert calls == ["a:request", "b:request", "b:response", "a:response"]
    # What middleware put into the job request reached the server.
    assert body["context"]["stamped_by_a"] is True
    assert body["context"]["stamped_by_b"] is True


def test_job_middleware_job_error_becomes_job_errors() -> None:
    client = client_with([{"path": path(DenyingMiddleware)}])
    with pytest.raises(CallJobError) as info:
        client.call_action("example", "echo")
    assert info.value.errors[0].code == "NOT_AUTHORIZED"
    assert client.call_action("example", "echo", {"x": 1}, context={"user": "admin"}).body == {"x": 1}


def test_job_middleware_crash_is_a_server_error() -> None:
    client = client_with([{"path": path(CrashingMiddleware)}])
    errors = client.call_action("example", "echo", raise_job_errors=False)
    assert [e.code for e in errors] == ["SERVER_ERROR"]
    assert "middleware bug" in (errors[0].message or "")


def test_middleware_kwargs_are_validated() -> None:
    from pysoa.common.settings import SettingsError

    with pytest.raises(SettingsError, match="label"):
        client_with([{"path": path(RecordingServerMiddleware), "kwargs": {"label": 5}}]).call_action("example", "echo")


class MiddlewarePlugin:
    @hookimpl
    def pysoa_register_middleware(self) -> list[type]:
        return [RecordingServerMiddleware, RecordingClientMiddleware]


def test_middleware_named_by_plugin_name() -> None:
    from pysoa.plugins import get_plugin_manager

    manager = PluginManager(autoload=False)
    local = get_plugin_manager().client_transport("local")
    import soa_local.hooks

    manager.register(soa_local.hooks, name="local")
    manager.register(MiddlewarePlugin(), name="recording-plugin")
    assert manager.client_transport("local") is local
    previous = set_plugin_manager(manager)
    try:
        client = client_with(
            [{"name": "recording", "kwargs": {"label": "p"}}],
            ["client-recording"],
        )
        client.call_action("example", "echo")
    finally:
        set_plugin_manager(previous)
    assert calls == [":request", "p:job:before", "p:action:echo", "p:job:after", ":response"]
