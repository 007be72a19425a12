"""The services the test-utility tests run: ``calculator`` (real) and the ``helper`` service it calls."""

from __future__ import annotations

from typing import Any

from conformity import fields

from pysoa.client import Client
from pysoa.common.types import Error
from pysoa.errors import ActionError
from pysoa.server import Server
from pysoa.server.action import Action

# Every request the calculator server receives: (action, body), for checking what reached it.
RECEIVED: list[tuple[str, dict[str, Any]]] = []


class SquareAction(Action):
    request_schema = fields.Dictionary({"number": fields.Integer()})
    response_schema = fields.Dictionary({"square": fields.Integer()})

    def run(self, request: Any) -> dict[str, Any]:
        RECEIVED.append((request.action, dict(request.body)))
        return {"square": request.body["number"] ** 2}


def echo(request: Any) -> dict[str, Any]:
    RECEIVED.append((request.action, dict(request.body)))
    return dict(request.body)


def refuse(request: Any) -> dict[str, Any]:
    """Fails with one non-field error and one field error."""
    RECEIVED.append((request.action, dict(request.body)))
    raise ActionError(
        [
            Error(code="NOT_AUTHORIZED", message="Not you"),
            Error(code="INVALID", message="Bad number", field="number"),
        ]
    )


def ask_helper(request: Any) -> dict[str, Any]:
    """Calls the helper service through request.client: a chained call a stub can intercept."""
    RECEIVED.append((request.action, dict(request.body)))
    response = request.client.call_action("helper", "lookup", {"key": request.body["key"]})
    return {"helper_said": response.body}


class SettingsAction(Action):
    """Reveals the server settings the test case built the server with."""

    def run(self, request: Any) -> dict[str, Any]:
        return {"extra_fields_to_redact": sorted(self.settings["extra_fields_to_redact"])}


class CalculatorServer(Server):
    service_name = "calculator"
    action_class_map = {
        "square": SquareAction,
        "echo": echo,
        "refuse": refuse,
        "ask_helper": ask_helper,
        "settings": SettingsAction,
    }


def local_config(server_class: type[Server] = CalculatorServer) -> dict[str, Any]:
    return {"transport": {"name": "local", "kwargs": {"server_class": server_class}}}


def calculator_client() -> Client:
    return Client({"calculator": local_config()})
