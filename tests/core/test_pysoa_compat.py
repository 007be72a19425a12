"""Code written for PySOA 1.4 imports and configures soa-core unchanged."""

from __future__ import annotations

import importlib

import pytest

PYSOA_IMPORTS = [
    ("pysoa.client", "Client"),
    ("pysoa.client.client", "Client"),
    ("pysoa.client.errors", "CallActionError"),
    ("pysoa.client.errors", "CallJobError"),
    ("pysoa.client.errors", "ImproperlyConfigured"),
    ("pysoa.client.middleware", "ClientMiddleware"),
    ("pysoa.client.settings", "ClientSettings"),
    ("pysoa.common.constants", "ERROR_CODE_SERVER_ERROR"),
    ("pysoa.common.errors", "Error"),
    ("pysoa.common.errors", "PySOAError"),
    ("pysoa.common.types", "ActionResponse"),
    ("pysoa.common.types", "JobResponse"),
    ("pysoa.common.types", "ActionRequest"),
    ("pysoa.common.types", "JobRequest"),
    ("pysoa.common.serializer", "MsgpackSerializer"),
    ("pysoa.common.serializer.msgpack_serializer", "MsgpackSerializer"),
    ("pysoa.common.serializer.json_serializer", "JSONSerializer"),
    ("pysoa.common.serializer.errors", "InvalidMessage"),
    ("pysoa.common.serializer.errors", "InvalidField"),
    ("pysoa.common.transport.base", "ClientTransport"),
    ("pysoa.common.transport.errors", "MessageReceiveTimeout"),
    ("pysoa.common.transport.errors", "MessageTooLarge"),
    ("pysoa.common.transport.errors", "TransientPySOATransportError"),
    ("pysoa.common.transport.errors", "PySOATransportError"),
    ("pysoa.common.transport.errors", "ConnectionError"),
    ("pysoa.common.transport.local", "LocalClientTransport"),
    ("pysoa.common.logging", "RecursivelyCensoredDictWrapper"),
    ("pysoa.server", "Server"),
    ("pysoa.server", "BaseServer"),
    ("pysoa.server.server", "Server"),
    ("pysoa.server.server", "HarakiriInterrupt"),
    ("pysoa.server.action", "Action"),
    ("pysoa.server.action.base", "Action"),
    ("pysoa.server.action.status", "BaseStatusAction"),
    ("pysoa.server.action.status", "StatusActionFactory"),
    ("pysoa.server.action.switched", "SwitchedAction"),
    ("pysoa.server.action.introspection", "IntrospectionAction"),
    ("pysoa.server.errors", "ActionError"),
    ("pysoa.server.errors", "JobError"),
    ("pysoa.server.middleware", "ServerMiddleware"),
    ("pysoa.server.settings", "ServerSettings"),
    ("pysoa.server.standalone", "simple_main"),
    ("pysoa.server.standalone", "django_main"),
    ("pysoa.server.types", "EnrichedActionRequest"),
]


@pytest.mark.parametrize(("module", "name"), PYSOA_IMPORTS)
def test_pysoa_import_paths(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is not None


def test_transport_connection_error_does_not_shadow_the_builtin() -> None:
    import pysoa.common.transport.errors as errors
    from pysoa.errors import TransientTransportError

    assert "ConnectionError" not in vars(errors)
    assert issubclass(errors.ConnectionError, TransientTransportError)


def test_pysoa_style_transport_path_and_action_error_flag() -> None:
    from pysoa.client import Client
    from pysoa.common.types import Error
    from pysoa.server.errors import ActionError
    from tests.core.services import ExampleServer

    client = Client(
        {
            "example": {
                "transport": {
                    "path": "pysoa.common.transport.local:LocalClientTransport",
                    "kwargs": {"server_class": "tests.core.services:ExampleServer", "server_settings": {}},
                }
            }
        }
    )
    assert client.call_action("example", "square", {"number": 5}).body == {"square": 25}
    assert ExampleServer.service_name == "example"
    kept = ActionError([Error(code="X", is_caller_error=False)], set_is_caller_error_to=None)
    assert kept.errors[0].is_caller_error is False
    assert ActionError([Error(code="X")]).errors[0].is_caller_error is True
