"""A service for soa-local's own tests, and settings for it that the transport loads by module path."""

from __future__ import annotations

from typing import Any

from pysoa.server import Server
from pysoa.server.action import Action
from pysoa.server.types import EnrichedActionRequest


class HarakiriTimeout(Action):
    """Returns the server's harakiri timeout: shows which server settings the transport built it with."""

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        assert self.settings is not None
        return {"timeout": self.settings["harakiri"]["timeout"], "transport": self.settings["transport"]["name"]}


def identity(request: EnrichedActionRequest) -> dict[str, Any]:
    """Returns the id of the body's ``value`` object: equal to the caller's only when nothing was copied."""
    return {"id": id(request.body["value"]), "value": request.body["value"]}


def echo(request: EnrichedActionRequest) -> dict[str, Any]:
    return dict(request.body)


def returns_a_set(request: EnrichedActionRequest) -> dict[str, Any]:
    return {"value": {1, 2, 3}}


class LocalServer(Server):
    service_name = "local_test"
    action_class_map = {"harakiri": HarakiriTimeout, "identity": identity, "echo": echo, "returns_a_set": returns_a_set}


# Loaded by 'tests.local_transport.service' (SOA_SERVER_SETTINGS) and 'tests.local_transport.service:OTHER'.
SOA_SERVER_SETTINGS: dict[str, Any] = {"harakiri": {"timeout": 42}}
OTHER: dict[str, Any] = {"harakiri": {"timeout": 7}}
NOT_SETTINGS = "a string"
