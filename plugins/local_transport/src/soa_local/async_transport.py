"""The local transport for :class:`~pysoa.client.AsyncClient`: the server runs in the caller's event loop.

Each request's job runs inside the task that sends it (``async def`` actions are awaited, sync ones
run in place), so concurrent calls run concurrently. Messages go through the serializer as with the
sync local transport (``serialize: False`` passes dicts by reference).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.async_base import AsyncClientTransport, AsyncServerTransport, IncomingRequest
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.message import ReplyRoute
from pysoa.errors import ConfigurationError, MessageReceiveTimeout
from soa_local.transport import (
    _DEFAULT_MAX_MESSAGE_BYTES,
    _SETTINGS_SCHEMA,
    _encoded_response,
    _received,
    _round_trip,
    build_local_server,
    local_codec,
)

__all__ = ["AsyncLocalClientTransport", "AsyncLocalServerTransport"]

# How long a receive waits when the caller gives no timeout: every job finishes inside its send,
# so a response that is not there by then is never coming.
_DEFAULT_RECEIVE_TIMEOUT_SECONDS = 5.0


class AsyncLocalServerTransport(AsyncServerTransport):
    """The server side: it only answers requests an :class:`AsyncLocalClientTransport` hands its server."""

    name = "local"
    settings_schema = _SETTINGS_SCHEMA

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder | None = None,
        instance_index: int = 1,
        client: AsyncLocalClientTransport | None = None,
    ) -> None:
        super().__init__(service_name, metrics, instance_index)
        self._client = client

    async def receive_request_message(self) -> IncomingRequest:
        raise ConfigurationError(
            "The local server transport cannot be used alone: a local client transport runs the server"
        )

    async def send_response_message(
        self, route: ReplyRoute, request_id: Any, meta: dict[str, Any], body: dict[str, Any]
    ) -> None:
        client = route.address
        assert isinstance(client, AsyncLocalClientTransport)
        client._deliver(request_id, meta, body)


class AsyncLocalClientTransport(AsyncClientTransport):
    """Builds the server in-process and runs each request's job in the sending task."""

    name = "local"
    settings_schema = _SETTINGS_SCHEMA
    serves_in_process = True
    receive_timeout_in_seconds = _DEFAULT_RECEIVE_TIMEOUT_SECONDS

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
        self._codec = local_codec(service_name, serialize, serializer, maximum_message_size_in_bytes)
        self._server_transport = AsyncLocalServerTransport(service_name, metrics, client=self)
        # Server middleware was bound to the transport the server built: report sizes to it.
        self._server_transport.message_sizes = self.server.transport.message_sizes
        self._route = ReplyRoute(self)
        self._responses: asyncio.Queue[tuple[Any, Any, Any]] = asyncio.Queue()
        self.server.setup()

    async def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        request_id, meta, body = _round_trip(
            self._codec, request_id, meta, body, self.message_sizes, self._server_transport.message_sizes
        )
        await self.server.handle_request_async(
            self._server_transport, IncomingRequest(request_id, meta, body, self._route)
        )

    def _deliver(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        blob = _encoded_response(self._codec, request_id, meta, body, self._server_transport.message_sizes)
        self._responses.put_nowait((request_id, meta, blob))

    async def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        timeout = receive_timeout_in_seconds or _DEFAULT_RECEIVE_TIMEOUT_SECONDS
        try:
            request_id, meta, blob = await asyncio.wait_for(self._responses.get(), timeout)
        except TimeoutError:
            raise MessageReceiveTimeout(f"No response from the local {self.service_name!r} in {timeout} s") from None
        return _received(self._codec, request_id, meta, blob, self.message_sizes)
