"""Switches chain into every call an action makes, whatever the call style, and across several hops.

Each way an action can reach another action is checked on its own, so that breaking the chaining in
any one place (the client's job building, the server's request.client, a call style, local actions,
a middle hop) fails a test of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server import Server


def switches(request: Any) -> dict[str, Any]:
    return {"switches": sorted(request.switches), "five_active": request.switches.is_active(5)}


def _inner_switches_by_call_style(request: Any) -> Any:
    client = request.client
    style = request.body["style"]
    extra = request.body.get("extra")
    action = {"action": "switches"}
    if style == "call_action":
        return client.call_action("inner", "switches", switches=extra).body["switches"]
    if style == "call_actions":
        return client.call_actions("inner", [action], switches=extra).actions[0].body["switches"]
    if style == "call_actions_parallel":
        [response] = client.call_actions_parallel("inner", [action], switches=extra)
        return response.body["switches"]
    if style == "call_jobs_parallel":
        [job] = client.call_jobs_parallel([{"service_name": "inner", "actions": [action]}], switches=extra)
        return job.actions[0].body["switches"]
    if style == "future":
        return client.call_action_future("inner", "switches", switches=extra).result().body["switches"]
    if style == "send_request":
        client.send_request("inner", [action], switches=extra)
        [(_request_id, job)] = list(client.get_all_responses("inner"))
        return job.actions[0].body["switches"]
    if style == "call_local_action":
        return request.call_local_action("own_switches").body["switches"]
    if style == "two_hops":
        return client.call_action("middle", "relay").body["switches"]
    raise AssertionError(style)


def call_inner(request: Any) -> dict[str, Any]:
    return {"switches": _inner_switches_by_call_style(request)}


def relay(request: Any) -> dict[str, Any]:
    return dict(request.client.call_action("inner", "switches").body)


class InnerServer(Server):
    service_name = "inner"
    action_class_map = {"switches": switches}


class MiddleServer(Server):
    service_name = "middle"
    action_class_map = {"relay": relay}


class OuterServer(Server):
    service_name = "outer"
    action_class_map = {"call_inner": call_inner, "own_switches": switches}


def _local(server_class: type[Server], routing: dict[str, Any] | None = None) -> dict[str, Any]:
    settings = {"client_routing": routing or {}}
    return {"transport": {"name": "local", "kwargs": {"server_class": server_class, "server_settings": settings}}}


@pytest.fixture
def client() -> Client:
    inner = _local(InnerServer)
    middle = _local(MiddleServer, {"inner": inner})
    return Client({"outer": _local(OuterServer, {"inner": inner, "middle": middle})})


STYLES = [
    "call_action",
    "call_actions",
    "call_actions_parallel",
    "call_jobs_parallel",
    "future",
    "send_request",
    "call_local_action",
    "two_hops",
]


@pytest.mark.parametrize("style", STYLES)
def test_the_callers_switches_reach_the_inner_action(client: Client, style: str) -> None:
    assert client.call_action("outer", "call_inner", {"style": style}, switches=[5, 3]).body["switches"] == [3, 5]


@pytest.mark.parametrize("style", [s for s in STYLES if s not in ("call_local_action", "two_hops")])
def test_switches_an_action_adds_join_the_chained_ones(client: Client, style: str) -> None:
    body = client.call_action("outer", "call_inner", {"style": style, "extra": [8]}, switches=[5, 3]).body
    assert body["switches"] == [3, 5, 8]


def test_switches_from_the_calling_clients_base_context_chain_too(client: Client) -> None:
    based: Callable[..., Any] = client.with_context({"correlation_id": "c", "switches": [2]}).call_action
    assert based("outer", "call_inner", {"style": "two_hops"}, switches=[5]).body["switches"] == [2, 5]


def test_without_switches_none_appear(client: Client) -> None:
    assert client.call_action("outer", "call_inner", {"style": "two_hops"}).body["switches"] == []
