"""The local transport: the client runs the server in its own process, synchronously.

By default every request and response goes through the serializer (MessagePack unless another
is named), so a test fails on a value that would not survive a real transport. Set
``serialize: False`` to pass dicts by reference instead (faster, but hides such bugs).
"""

from __future__ import annotations

import importlib
import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conformity import fields

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.settings import resolve_python_path
from pysoa.common.transport.base import NO_MESSAGE, ClientTransport, ReceivedMessage, ServerTransport
from pysoa.common.transport.message import EnvelopeCodec, MessageSizes, SerializerRegistry
from pysoa.errors import ConfigurationError, InvalidMessageError, MessageReceiveTimeout
from pysoa.plugins import get_plugin_manager

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ["LocalClientTransport", "LocalServerTransport", "build_local_server", "local_codec"]

_DEFAULT_MAX_MESSAGE_BYTES = 100 * 1024 * 1024


class LocalServerTransport(ServerTransport):
    """The server side of the local transport. It only works when a :class:`LocalClientTransport` owns it."""

    name = "local"
    settings_schema = fields.Dictionary({})

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None, instance_index: int = 1) -> None:
        super().__init__(service_name, metrics, instance_index)
        self._client: LocalClientTransport | None = None
        self._pending: ReceivedMessage | None = None

    def receive_request_message(self) -> ReceivedMessage:
        pending, self._pending = self._pending, None
        if pending is None:
            if self._client is None:
                raise ConfigurationError(
                    "The local server transport cannot be used alone: a LocalClientTransport runs the server"
                )
            raise MessageReceiveTimeout("No request is waiting")
        return pending

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        if self._client is None:
            raise ConfigurationError("The local server transport has no client to answer")
        self._client._deliver(request_id, meta, body)


_SETTINGS_SCHEMA = fields.Dictionary(
    {
        "server_class": fields.Any(
            fields.UnicodeString(description="'package.module:ServerClass'"),
            fields.ObjectInstance(type, description="The server class itself"),
        ),
        "server_settings": fields.Any(
            fields.SchemalessDictionary(key_type=fields.UnicodeString(), description="The server's settings"),
            fields.UnicodeString(description="'package.module' (its SOA_SERVER_SETTINGS) or 'package.module:NAME'"),
        ),
        "serialize": fields.Boolean(description="Send every message through the serializer (default true)"),
        "serializer": fields.UnicodeString(description="Serializer plugin name (default 'msgpack')"),
        "maximum_message_size_in_bytes": fields.Integer(gt=0, description="Largest message (serialized)"),
    },
    optional_keys=("server_settings", "serialize", "serializer", "maximum_message_size_in_bytes"),
)


def _load_server_settings(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if ":" in value:
        settings = resolve_python_path(value)
    else:
        module = importlib.import_module(value)
        settings = getattr(module, "SOA_SERVER_SETTINGS", None) or getattr(module, "settings", None)
    if not isinstance(settings, Mapping):
        raise ConfigurationError(f"server_settings {value!r} does not name a settings dict")
    return dict(settings)


def build_local_server(
    service_name: str,
    metrics: MetricsRecorder | None,
    server_class: type | str | None,
    server_settings: Mapping[str, Any] | str | None,
) -> Server:
    """The server a local client transport runs in-process, set up, with ``transport: local``."""
    from pysoa.server.server import Server

    if server_class is None:
        raise ConfigurationError("The local transport needs 'server_class'")
    cls = resolve_python_path(server_class) if isinstance(server_class, str) else server_class
    if not isinstance(cls, type) or not issubclass(cls, Server):
        raise ConfigurationError(f"server_class {server_class!r} is not a pysoa Server subclass")
    if cls.service_name != service_name:
        raise ConfigurationError(
            f"server_class {cls.__name__} serves {cls.service_name!r}, but this transport is for {service_name!r}"
        )
    # Copy rather than mutate the caller's settings (PySOA overwrote them in place).
    settings = _load_server_settings(server_settings)
    settings["transport"] = {"name": "local"}
    server = cls(settings)
    server._skip_django_database_cleanup = True
    return server


def local_codec(
    service_name: str, serialize: bool, serializer: str, maximum_message_size_in_bytes: int
) -> EnvelopeCodec | None:
    """The codec every local message goes through, or ``None`` with ``serialize: False``."""
    if not serialize:
        return None
    default = get_plugin_manager().serializer(serializer)(max_message_size_in_bytes=maximum_message_size_in_bytes)
    return EnvelopeCodec(
        SerializerRegistry(default, lookup=get_plugin_manager().serializer_for_mime_type),
        maximum_message_size_in_bytes,
        f"service {service_name!r}",
    )


class LocalClientTransport(ClientTransport):
    """Builds the server in-process and hands it each request synchronously."""

    name = "local"
    settings_schema = _SETTINGS_SCHEMA
    serves_in_process = True

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder | None = None,
        server_class: type | str | None = None,
        server_settings: Mapping[str, Any] | str | None = None,
        serialize: bool = True,
        serializer: str = "msgpack",
        maximum_message_size_in_bytes: int = _DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        super().__init__(service_name, metrics)
        self.server = build_local_server(service_name, metrics, server_class, server_settings)
        self._server_transport = LocalServerTransport(service_name, metrics)
        self._server_transport._client = self
        # Server middleware was bound to the transport the server built: keep reporting sizes to it.
        self._server_transport.message_sizes = self.server.transport.message_sizes
        self.server.transport = self._server_transport
        self._codec = local_codec(service_name, serialize, serializer, maximum_message_size_in_bytes)
        self.maximum_message_size_in_bytes = maximum_message_size_in_bytes
        # The server is not thread-safe; requests from several threads run one at a time.
        self._server_lock = threading.Lock()
        # Responses per sending thread, so that one thread never takes another's response.
        self._responses: defaultdict[int, deque[tuple[Any, Any, Any]]] = defaultdict(deque)
        self._sending_thread = 0
        self.server.setup()

    def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        request_id, meta, body = _round_trip(
            self._codec, request_id, meta, body, self.message_sizes, self._server_transport.message_sizes
        )
        thread = threading.get_ident()
        with self._server_lock:
            self._server_transport._pending = ReceivedMessage(request_id, meta, body)
            self._sending_thread = thread
            self.server.handle_next_request()

    def _deliver(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        """Called by the server (under the server lock) with its response."""
        blob = _encoded_response(self._codec, request_id, meta, body, self._server_transport.message_sizes)
        self._responses[self._sending_thread].append((request_id, meta, blob))

    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        queue = self._responses.get(threading.get_ident())
        if not queue:
            return NO_MESSAGE
        request_id, meta, blob = queue.popleft()
        return _received(self._codec, request_id, meta, blob, self.message_sizes)


# One codec does both sides' work here, so each side's size hook is told what that side would have
# sent or received; without a codec there are no bytes to measure and nothing is reported.


def _round_trip(
    codec: EnvelopeCodec | None,
    request_id: Any,
    meta: dict[str, Any],
    body: dict[str, Any],
    client_sizes: MessageSizes,
    server_sizes: MessageSizes,
) -> tuple[Any, dict[str, Any], Any]:
    """A request as the server would see it after a real transport (unchanged without a codec)."""
    if codec is None:
        return request_id, meta, body
    blob = codec.encode(request_id, meta, body)
    client_sizes.sent(len(blob))
    server_sizes.received(len(blob))
    envelope = codec.decode(blob)
    return envelope.request_id, envelope.meta or {}, envelope.body


def _encoded_response(
    codec: EnvelopeCodec | None, request_id: Any, meta: dict[str, Any], body: dict[str, Any], server_sizes: MessageSizes
) -> Any:
    if codec is None:
        return body
    blob = codec.encode(request_id, meta, body)
    server_sizes.sent(len(blob))
    return blob


def _received(
    codec: EnvelopeCodec | None, request_id: Any, meta: Any, blob: Any, client_sizes: MessageSizes
) -> ReceivedMessage:
    if codec is not None:
        client_sizes.received(len(blob))
    body = blob if codec is None else codec.decode(blob).body
    if not isinstance(body, dict):
        raise InvalidMessageError("The response body is not a dict")
    return ReceivedMessage(request_id, meta, body)
