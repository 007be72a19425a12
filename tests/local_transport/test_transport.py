"""soa-local's own behaviour: serialization on and off, server settings, errors, per-thread routing."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.settings import SettingsError
from pysoa.common.transport.base import NO_MESSAGE
from pysoa.errors import (
    CallJobError,
    ConfigurationError,
    EncodeError,
    MessageReceiveTimeout,
    MessageTooLarge,
    PluginError,
)
from pysoa.server import Server
from soa_local.transport import LocalClientTransport, LocalServerTransport
from tests.local_transport.service import LocalServer

SERVICE = LocalServer.service_name


def client(**kwargs: Any) -> Client:
    kwargs.setdefault("server_class", LocalServer)
    return Client({SERVICE: {"transport": {"name": "local", "kwargs": kwargs}}})


# --- serialization ---------------------------------------------------------------------------------------


def test_by_default_every_message_goes_through_msgpack_so_the_server_gets_a_copy() -> None:
    value = [1, 2, 3]
    body = client().call_action(SERVICE, "identity", {"value": value}).body
    assert body["value"] == value
    assert body["id"] != id(value)


def test_by_default_a_value_msgpack_cannot_carry_fails_as_it_would_over_a_real_transport() -> None:
    with pytest.raises(EncodeError):
        client().call_action(SERVICE, "echo", {"value": {1, 2}})


def test_a_response_the_serializer_cannot_carry_becomes_a_job_error_not_a_silent_success() -> None:
    with pytest.raises(CallJobError) as info:
        client().call_action(SERVICE, "returns_a_set")
    assert [e.code for e in info.value.errors] == ["RESPONSE_NOT_SERIALIZABLE"]


def test_without_serialization_dicts_pass_by_reference() -> None:
    value = [1, 2, 3]
    body = client(serialize=False).call_action(SERVICE, "identity", {"value": value}).body
    assert body["id"] == id(value)
    assert client(serialize=False).call_action(SERVICE, "returns_a_set").body == {"value": {1, 2, 3}}


def test_the_serializer_is_chosen_by_plugin_name() -> None:
    when = {"when": datetime.date(2020, 2, 29)}
    assert client(serializer="msgpack").call_action(SERVICE, "echo", when).body == when
    with pytest.raises(EncodeError, match="date"):
        client(serializer="json").call_action(SERVICE, "echo", when)


def test_an_unknown_serializer_fails_when_the_transport_is_built_naming_it() -> None:
    with pytest.raises(PluginError, match="nope"):
        client(serializer="nope").call_action(SERVICE, "echo", {})


def test_a_message_larger_than_the_maximum_is_refused_before_the_server_sees_it() -> None:
    small = client(maximum_message_size_in_bytes=200)
    assert small.call_action(SERVICE, "echo", {"x": "y"}).body == {"x": "y"}
    with pytest.raises(MessageTooLarge):
        small.call_action(SERVICE, "echo", {"x": "y" * 500})


# --- server class and settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_settings", "timeout"),
    [
        ({"harakiri": {"timeout": 5}}, 5),
        ("tests.local_transport.service", 42),  # the module's SOA_SERVER_SETTINGS
        ("tests.local_transport.service:OTHER", 7),
    ],
)
def test_server_settings_come_from_a_dict_or_a_module_path(server_settings: Any, timeout: int) -> None:
    body = client(server_settings=server_settings).call_action(SERVICE, "harakiri").body
    assert body == {"timeout": timeout, "transport": "local"}


def test_the_server_class_may_be_named_by_path() -> None:
    named = client(server_class="tests.local_transport.service:LocalServer")
    assert named.call_action(SERVICE, "echo", {"a": 1}).body == {"a": 1}


def test_the_callers_server_settings_are_not_modified() -> None:
    settings: dict[str, Any] = {"harakiri": {"timeout": 5}, "transport": {"name": "redis"}}
    client(server_settings=settings).call_action(SERVICE, "echo", {})
    assert settings == {"harakiri": {"timeout": 5}, "transport": {"name": "redis"}}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"server_class": "tests.local_transport.service:NOT_SETTINGS"}, "not a pysoa Server subclass"),
        ({"server_settings": "tests.local_transport.service:NOT_SETTINGS"}, "does not name a settings dict"),
    ],
)
def test_misconfiguration_fails_when_the_transport_is_built(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        client(**kwargs).call_action(SERVICE, "echo", {})


def test_a_server_class_for_another_service_is_refused_naming_both() -> None:
    class Elsewhere(Server):
        service_name = "elsewhere"
        action_class_map = {}

    with pytest.raises(ConfigurationError, match=r"'elsewhere'.*'local_test'"):
        LocalClientTransport(SERVICE, server_class=Elsewhere)


def test_an_unknown_setting_is_refused_naming_its_key_path() -> None:
    with pytest.raises(SettingsError, match=r"transport\.kwargs"):
        client(serialise=False)


def test_the_server_transport_cannot_be_used_alone() -> None:
    alone = LocalServerTransport(SERVICE)
    with pytest.raises(ConfigurationError, match="cannot be used alone"):
        alone.receive_request_message()
    with pytest.raises(ConfigurationError, match="no client"):
        alone.send_response_message(1, {}, {})


def test_with_a_client_and_nothing_pending_the_server_transport_times_out() -> None:
    transport = LocalClientTransport(SERVICE, server_class=LocalServer)
    with pytest.raises(MessageReceiveTimeout):
        transport._server_transport.receive_request_message()


# --- threads --------------------------------------------------------------------------------------------------


def _job(action: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "control": {"continue_on_error": False},
        "context": {"switches": [], "correlation_id": "cid"},
        "actions": [{"action": action, "body": body}],
    }


def test_each_thread_receives_only_the_responses_to_its_own_requests() -> None:
    transport = LocalClientTransport(SERVICE, server_class=LocalServer)
    other_sent = threading.Event()
    other_received: list[Any] = []

    def other_thread() -> None:
        transport.send_request_message(1, {}, _job("echo", {"who": "other"}))
        other_sent.set()
        main_done.wait(10)
        other_received.append(transport.receive_response_message(0))
        other_received.append(transport.receive_response_message(0))

    main_done = threading.Event()
    thread = threading.Thread(target=other_thread)
    thread.start()
    assert other_sent.wait(10)
    transport.send_request_message(2, {}, _job("echo", {"who": "main"}))
    mine = transport.receive_response_message(0)
    assert mine.request_id == 2
    assert mine.body is not None
    assert mine.body["actions"][0]["body"] == {"who": "main"}
    assert transport.receive_response_message(0) is NO_MESSAGE  # the other thread's response is not ours
    main_done.set()
    thread.join(10)
    first, second = other_received
    assert first.request_id == 1
    assert first.body is not None
    assert first.body["actions"][0]["body"] == {"who": "other"}
    assert second is NO_MESSAGE


def test_concurrent_calls_from_many_threads_each_get_their_own_answer() -> None:
    shared = client()
    results: dict[int, Any] = {}

    def call(n: int) -> None:
        results[n] = shared.call_action(SERVICE, "echo", {"n": n}).body

    threads = [threading.Thread(target=call, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {n: {"n": n} for n in range(16)}
