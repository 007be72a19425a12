"""Small services shared by the client/server tests."""

from __future__ import annotations

import time
from typing import Any

from conformity import fields

from pysoa.client import Client
from pysoa.common.types import Error
from pysoa.errors import ActionError, JobError
from pysoa.server import Server
from pysoa.server.action import Action
from pysoa.server.action.switched import SwitchedAction


class SquareAction(Action):
    """Squares a number."""

    request_schema = fields.Dictionary({"number": fields.Integer()})
    response_schema = fields.Dictionary({"square": fields.Integer()})

    def run(self, request: Any) -> dict[str, Any]:
        return {"square": request.body["number"] ** 2}


class FailAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        raise ActionError([Error(code="NOT_AUTHORIZED", message="No way", field="who")])


class JobFailAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        raise JobError([Error(code="ACCESS_DENIED", message="Go away")])


class CrashAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        raise ZeroDivisionError("boom")


class BadResponseAction(Action):
    response_schema = fields.Dictionary({"n": fields.Integer()})

    def run(self, request: Any) -> dict[str, Any]:
        return {"n": "not an int"}


def echo(request: Any) -> dict[str, Any]:
    return dict(request.body)


def context_action(request: Any) -> dict[str, Any]:
    return {"context": dict(request.context), "switches": sorted(request.switches)}


def sleep_action(request: Any) -> dict[str, Any]:
    time.sleep(request.body.get("seconds", 0))
    return {"slept": request.body.get("seconds", 0)}


def unserializable(request: Any) -> dict[str, Any]:
    return {"value": {1, 2, 3}}


def big(request: Any) -> dict[str, Any]:
    return {"data": "x" * request.body["size"]}


class V1(Action):
    def run(self, request: Any) -> dict[str, Any]:
        return {"version": 1}


class V2(Action):
    def run(self, request: Any) -> dict[str, Any]:
        return {"version": 2}


class VersionedAction(SwitchedAction):
    switch_to_action_map = ((5, V2), (SwitchedAction.DEFAULT_ACTION, V1))


class ExampleServer(Server):
    """A service for tests."""

    service_name = "example"
    action_class_map = {
        "square": SquareAction,
        "fail": FailAction,
        "job_fail": JobFailAction,
        "crash": CrashAction,
        "bad_response": BadResponseAction,
        "echo": echo,
        "context": context_action,
        "sleep": sleep_action,
        "unserializable": unserializable,
        "big": big,
        "versioned": VersionedAction,
    }


def local_client(
    server_class: type[Server] = ExampleServer,
    server_settings: dict[str, Any] | None = None,
    **transport_kwargs: Any,
) -> Client:
    """A client for one service over the local transport."""
    return Client(
        {
            server_class.service_name or "": {
                "transport": {
                    "name": "local",
                    "kwargs": {
                        "server_class": server_class,
                        "server_settings": server_settings or {},
                        **transport_kwargs,
                    },
                }
            }
        }
    )
