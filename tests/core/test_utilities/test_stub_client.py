"""``StubClient``, ``StubClientTransport`` and ``StubServer``: clients whose services answer canned responses."""

from __future__ import annotations

import pytest

from pysoa.client import Client
from pysoa.common.types import Error
from pysoa.errors import CallActionError, ImproperlyConfigured
from pysoa.test.stub_service import StubClient, StubClientSettings, StubClientTransport, StubServer


def test_service_action_map_answers_bodies_and_errors() -> None:
    client = StubClient(
        {
            "user": {
                "get_user": {"body": {"id": 1, "name": "Ann"}},
                "delete_user": {"errors": [{"code": "NOT_AUTHORIZED", "message": "No", "field": "id"}]},
            },
        }
    )

    assert client.call_action("user", "get_user", {"id": 1}).body == {"id": 1, "name": "Ann"}
    with pytest.raises(CallActionError) as exc_info:
        client.call_action("user", "delete_user", {"id": 1})
    error = exc_info.value.actions[0].errors[0]
    assert (error.code, error.field, error.is_caller_error) == ("NOT_AUTHORIZED", "id", True)


def test_unstubbed_actions_are_unknown_and_unconfigured_services_unrecognised() -> None:
    client = StubClient({"user": {}})

    with pytest.raises(CallActionError) as exc_info:
        client.call_action("user", "get_user")
    assert exc_info.value.actions[0].errors[0].code == "UNKNOWN"
    with pytest.raises(ImproperlyConfigured):
        client.call_action("nobody", "get_user")


def test_stub_action_adds_actions_and_services() -> None:
    client = StubClient()
    client.stub_action("user", "get_user", body={"id": 2})
    client.stub_action("user", "block_user", errors=[Error(code="NOPE", message="nope")])
    client.stub_action("billing", "charge", body={"charged": True})

    job = client.call_actions(
        "user", [{"action": "get_user"}, {"action": "block_user"}], continue_on_error=True, raise_action_errors=False
    )
    assert job.actions[0].body == {"id": 2}
    assert job.actions[1].errors[0].code == "NOPE"
    assert client.call_action("billing", "charge").body == {"charged": True}
    # Restubbing replaces the canned response.
    client.stub_action("user", "get_user", body={"id": 3})
    assert client.call_action("user", "get_user").body == {"id": 3}


def test_responses_are_copies() -> None:
    client = StubClient({"user": {"get_user": {"body": {"tags": ["a"]}}}})
    client.call_action("user", "get_user").body["tags"].append("b")
    assert client.call_action("user", "get_user").body == {"tags": ["a"]}


def test_parallel_calls_on_a_stub_client() -> None:
    client = StubClient({"a": {"x": {"body": {"n": 1}}}, "b": {"y": {"body": {"n": 2}}}})

    jobs = client.call_jobs_parallel(
        [{"service_name": "a", "actions": [{"action": "x"}]}, {"service_name": "b", "actions": [{"action": "y"}]}]
    )
    assert [job.actions[0].body for job in jobs] == [{"n": 1}, {"n": 2}]
    assert [r.body for r in client.call_actions_parallel("a", [{"action": "x"}, {"action": "x"}])] == [
        {"n": 1},
        {"n": 1},
    ]


def test_stub_bodies_need_not_survive_serialization() -> None:
    client = StubClient({"svc": {"get": {"body": {"thing": {1, 2}, "pair": (1, 2)}}}})
    # msgpack would refuse the set and turn the tuple into a list.
    assert client.call_action("svc", "get").body == {"thing": {1, 2}, "pair": (1, 2)}


def test_stub_client_transport_in_ordinary_client_settings() -> None:
    client = Client(
        {
            "inventory": {
                "transport": {
                    "path": "pysoa.test.stub_service:StubClientTransport",
                    "kwargs": {"action_map": {"count": {"body": {"count": 7}}}},
                },
            },
        }
    )
    assert client.call_action("inventory", "count").body == {"count": 7}
    transport = client._get_handler("inventory").transport
    assert isinstance(transport, StubClientTransport)
    assert isinstance(transport.server, StubServer)
    assert type(transport.server).__name__ == "InventoryServer"
    assert transport.server.service_name == "inventory"


def test_stub_client_settings_default_to_the_stub_transport() -> None:
    settings = StubClientSettings({})
    assert settings["transport"]["object"] is StubClientTransport


def test_stub_client_transport_kwargs_are_validated() -> None:
    with pytest.raises(ValueError, match="action_map"):
        Client(
            {
                "inventory": {
                    "transport": {
                        "path": "pysoa.test.stub_service:StubClientTransport",
                        "kwargs": {"action_map": {"count": {"bogus": 1}}},
                    },
                },
            }
        )


def test_stub_server_built_directly() -> None:
    class WidgetServer(StubServer):
        service_name = "widget"

    client = Client({"widget": {"transport": {"name": "local", "kwargs": {"server_class": WidgetServer}}}})
    server = client._get_handler("widget").transport.server  # type: ignore[attr-defined]
    server.stub_action("spin", body={"spun": True})
    assert client.call_action("widget", "spin").body == {"spun": True}
    # The built-in actions still work beside the stubs.
    assert "spin" in client.call_action("widget", "introspect").body["actions"]
