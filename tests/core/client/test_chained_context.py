"""The context of the request being handled reaches every client call made meanwhile, not just ``request.client``."""

from __future__ import annotations

from typing import Any

from pysoa.client import Client
from pysoa.client._chain import chained_context, current_chained_context
from pysoa.client._jobs import build_job
from pysoa.server import Server


def context_of(request: Any) -> dict[str, Any]:
    return {"context": dict(request.context)}


class InnerServer(Server):
    service_name = "inner"
    action_class_map = {"context_of": context_of}


INNER_ROUTING: dict[str, Any] = {
    "inner": {"transport": {"name": "local", "kwargs": {"server_class": InnerServer, "server_settings": {}}}}
}


def through_own_client(request: Any) -> dict[str, Any]:
    """Calls the inner service with a client of its own, made here: not ``request.client``."""
    own = Client(INNER_ROUTING, context={"tenant": "own"})
    seen = own.call_action("inner", "context_of", switches=[9]).body["context"]
    return {"inner_saw": seen}


class OuterServer(Server):
    service_name = "outer"
    action_class_map = {"through_own_client": through_own_client}


def outer_client() -> Client:
    return Client(
        {"outer": {"transport": {"name": "local", "kwargs": {"server_class": OuterServer, "server_settings": {}}}}}
    )


def test_a_client_made_inside_an_action_carries_the_request_context() -> None:
    response = outer_client().call_action(
        "outer",
        "through_own_client",
        correlation_id="order-1",
        switches=[3],
        context={"locale": "fr_FR", "tenant": "caller"},
    )
    seen = response.body["inner_saw"]
    assert seen["correlation_id"] == "order-1"
    assert seen["switches"] == [3, 9]
    assert seen["locale"] == "fr_FR"
    assert seen["calling_service"] == "outer"
    assert seen["tenant"] == "own"  # the client's own context overrides the chained one


def test_the_chain_ends_with_the_job() -> None:
    outer_client().call_action("outer", "through_own_client", correlation_id="order-2")
    assert current_chained_context() is None
    after = Client(INNER_ROUTING).call_action("inner", "context_of").body["context"]
    assert after["correlation_id"] != "order-2"
    assert "calling_service" not in after


def test_merge_order_chained_then_client_then_call() -> None:
    chained = {"correlation_id": "c-1", "switches": [1], "locale": "en_US", "auth": "token"}
    with chained_context(chained):
        job = build_job({"locale": "de_DE", "switches": [2]}, [{"action": "a"}], [4], None, False, None, None, 0, False)
        explicit = build_job({}, [{"action": "a"}], None, "mine", False, {"auth": "other"}, None, 0, False)
    assert job["context"] == {"correlation_id": "c-1", "switches": [1, 2, 4], "locale": "de_DE", "auth": "token"}
    assert explicit["context"]["correlation_id"] == "mine"
    assert explicit["context"]["auth"] == "other"
    assert chained == {"correlation_id": "c-1", "switches": [1], "locale": "en_US", "auth": "token"}
