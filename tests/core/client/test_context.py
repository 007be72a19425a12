"""Context, switches and correlation ids: built by the client, chained by servers."""

from __future__ import annotations

import enum
from typing import Any

from pysoa.client import Client
from pysoa.server import Server
from tests.core.services import local_client


class Switch(enum.IntEnum):
    NEW_UI = 7


class ValueSwitch:
    def __init__(self, value: int) -> None:
        self.value = value


def test_correlation_id_is_generated_when_absent() -> None:
    client = local_client()
    first = client.call_action("example", "context").body["context"]["correlation_id"]
    second = client.call_action("example", "context").body["context"]["correlation_id"]
    assert isinstance(first, str)
    assert len(first) >= 16
    assert first != second


def test_context_merge_order() -> None:
    client = local_client()
    client.context = {"correlation_id": "base", "switches": [1], "locale": "en_US", "auth": "t"}
    body = client.call_action(
        "example",
        "context",
        switches=[2, Switch.NEW_UI, ValueSwitch(9)],
        context={"switches": [3], "locale": "fr_FR", "tenant": 5},
    ).body
    assert body["switches"] == [1, 2, 3, 7, 9]
    assert body["context"]["correlation_id"] == "base"
    assert body["context"]["locale"] == "fr_FR"
    assert body["context"]["tenant"] == 5
    assert body["context"]["auth"] == "t"


def test_explicit_correlation_id_wins_over_the_base_context() -> None:
    client = local_client()
    client.context = {"correlation_id": "base"}
    body = client.call_action("example", "context", correlation_id="mine").body
    assert body["context"]["correlation_id"] == "mine"


def test_switches_given_as_a_generator_reach_every_parallel_job() -> None:
    client = local_client()
    jobs = [{"service_name": "example", "actions": [{"action": "context"}]} for _ in range(3)]
    responses = client.call_jobs_parallel(jobs, switches=(n for n in (2, 1)))
    assert [response.actions[0].body["switches"] for response in responses] == [[1, 2]] * 3
    actions = client.call_actions_parallel("example", [{"action": "context"}] * 2, switches=iter([5]))
    assert [action.body["switches"] for action in actions] == [[5], [5]]


def test_response_context_carries_the_correlation_id() -> None:
    response = local_client().call_actions("example", [{"action": "echo"}], correlation_id="abc")
    assert response.context == {"correlation_id": "abc"}


# --- chaining three services deep ---------------------------------------------------------------

seen_transports: list[int] = []


class ServiceC(Server):
    service_name = "svc_c"
    action_class_map = {"where": lambda settings: lambda request: _respond(request, {"context": dict(request.context)})}


def _respond(request: Any, body: dict[str, Any]) -> Any:
    from pysoa.common.types import ActionResponse

    return ActionResponse(request.action, body=body)


def call_c(request: Any) -> dict[str, Any]:
    seen_transports.append(id(request.client._get_handler("svc_c").transport))
    inner = request.client.call_action("svc_c", "where")
    return {"from_c": inner.body["context"], "switches_at_b": sorted(request.switches)}


class ServiceB(Server):
    service_name = "svc_b"
    action_class_map = {"call_c": call_c}


def call_b(request: Any) -> dict[str, Any]:
    return dict(request.client.call_action("svc_b", "call_c").body)


class ServiceA(Server):
    service_name = "svc_a"
    action_class_map = {"call_b": call_b}


def _local(server_class: type[Server], routing: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "transport": {
            "name": "local",
            "kwargs": {"server_class": server_class, "server_settings": {"client_routing": routing or {}}},
        }
    }


def test_context_chains_three_services_deep() -> None:
    seen_transports.clear()
    routing_b = {"svc_c": _local(ServiceC)}
    routing_a = {"svc_b": _local(ServiceB, routing_b)}
    client = Client({"svc_a": _local(ServiceA, routing_a)})
    body = client.call_action(
        "svc_a", "call_b", correlation_id="corr-1", switches=[4, 2], context={"locale": "de_DE", "caller": "tests"}
    ).body
    at_c = body["from_c"]
    assert at_c["correlation_id"] == "corr-1"
    assert at_c["switches"] == [2, 4]
    assert at_c["locale"] == "de_DE"
    assert at_c["caller"] == "tests"
    assert at_c["calling_service"] == "svc_b"  # set by B, the immediate caller
    assert body["switches_at_b"] == [2, 4]

    # A second job reuses B's client and its transport to C (no client built per job).
    client.call_action("svc_a", "call_b")
    assert len(seen_transports) == 2
    assert seen_transports[0] == seen_transports[1]
