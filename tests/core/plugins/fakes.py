"""Small plugin classes and plugin objects for the plugin-system and settings tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, ClassVar

from conformity import fields

from pysoa.client.middleware import ClientMiddleware
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.serializer.base import Serializer
from pysoa.common.transport.base import NO_MESSAGE, ClientTransport, ReceivedMessage, ServerTransport
from pysoa.errors import MessageReceiveTimeout
from pysoa.plugins import hookimpl
from pysoa.server.middleware import ServerMiddleware


class FakeClientTransport(ClientTransport):
    name = "fake"
    settings_schema: ClassVar[fields.Base] = fields.Dictionary(
        {"host": fields.UnicodeString(), "port": fields.Integer(gt=0)},
        optional_keys=("port",),
    )

    def __init__(
        self, service_name: str, metrics: MetricsRecorder | None = None, host: str = "", port: int = 1
    ) -> None:
        super().__init__(service_name, metrics)
        self.host, self.port = host, port

    def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        raise NotImplementedError("never sends; only settings and lookups use it")

    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        return NO_MESSAGE


class FakeServerTransport(ServerTransport):
    name = "fake"
    settings_schema: ClassVar[fields.Base] = fields.Dictionary({})

    def receive_request_message(self) -> ReceivedMessage:
        raise MessageReceiveTimeout("never receives")

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        raise NotImplementedError("never sends")


class FakeSerializer(Serializer):
    name = "fake"
    mime_type = "application/x-fake"

    def dict_to_blob(self, message_dict: Mapping[str, Any]) -> bytes:
        return repr(dict(message_dict)).encode()

    def blob_to_dict(self, blob: bytes) -> dict[str, Any]:
        raise NotImplementedError("never decodes")


class FakeClientMiddleware(ClientMiddleware):
    name = "fake-mw"
    settings_schema: ClassVar[fields.Base] = fields.Dictionary({"level": fields.Integer()}, optional_keys=("level",))


class FakeServerMiddleware(ServerMiddleware):
    name = "fake-mw"


def no_classes() -> list[type]:
    """A hook implementation that registers nothing."""
    return []


def make_plugin(**hooks: Callable[..., object]) -> SimpleNamespace:
    """A plugin object whose attributes are the given functions, marked as hook implementations."""
    return SimpleNamespace(**{name: hookimpl(function) for name, function in hooks.items()})


def fake_plugin() -> SimpleNamespace:
    """A plugin providing every fake class above, through every registration hook."""
    return make_plugin(
        pysoa_register_transports=lambda: [FakeClientTransport, FakeServerTransport],
        pysoa_register_serializers=lambda: [FakeSerializer],
        pysoa_register_middleware=lambda: [FakeClientMiddleware, FakeServerMiddleware],
    )
