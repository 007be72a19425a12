"""The client side on asyncio: one DEALER socket (pyzmq's asyncio sockets) shared by every task of an AsyncClient.

The router returns each response to the socket its request came from, and the AsyncClient routes it
to the awaiting task by request id, so one socket serves any number of concurrent calls. The socket
is opened on first use, in the event loop that uses it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import zmq
import zmq.asyncio

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.async_base import AsyncClientTransport
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.transport.message import EnvelopeCodec, SerializerRegistry, expiry_seconds
from pysoa.errors import (
    DecodeError,
    InvalidMessageError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
)
from pysoa.plugins import get_plugin_manager
from soa_zmq._protocol import RESPONSE, parse_header, request_header, split_response
from soa_zmq._settings import CLIENT_SETTINGS_SCHEMA, ClientOptions, client_options
from soa_zmq._sockets import connect, get_context, prepare_client_socket

__all__ = ["AsyncZmqClientTransport"]

_logger = logging.getLogger("soa_zmq.client")


class AsyncZmqClientTransport(AsyncClientTransport):
    """Sends job requests to a service's router and receives the responses, on asyncio."""

    name = "zmq"
    settings_schema = CLIENT_SETTINGS_SCHEMA

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None, **kwargs: Any) -> None:
        super().__init__(service_name, metrics)
        self.options: ClientOptions = client_options(kwargs)
        serializer_kwargs = dict(self.options.serializer["kwargs"])
        serializer_kwargs.setdefault("max_message_size_in_bytes", self.options.maximum_message_size_in_bytes)
        default = self.options.serializer["object"](**serializer_kwargs)
        self._codec = EnvelopeCodec(
            SerializerRegistry(
                default, self.options.maximum_message_size_in_bytes, get_plugin_manager().serializer_for_mime_type
            ),
            self.options.maximum_message_size_in_bytes,
            f"service {service_name!r}",
            self.message_sizes,
        )
        self._content_type = default.mime_type.encode("ascii")
        self.receive_timeout_in_seconds = self.options.receive_timeout_in_seconds
        self._socket: zmq.asyncio.Socket | None = None

    def _open(self) -> zmq.asyncio.Socket:
        sock = self._socket
        if sock is not None:
            return sock
        options = self.options
        sock = zmq.asyncio.Context.shadow(get_context()).socket(zmq.DEALER)
        try:
            prepare_client_socket(sock, options, b"c" + os.urandom(15))
            connect(sock, options.endpoint)
        except BaseException:
            sock.close(linger=0)
            raise
        self._socket = sock
        return sock

    async def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        expiry, _explicit = expiry_seconds(message_expiry_in_seconds, self.options.message_expiry_in_seconds)
        if expiry <= 0:
            raise MessageSendTimeout(f"The call to {self.service_name!r} has no time left to send a request")
        blob = self._codec.encode(request_id, meta, body)
        frames = [request_header(time.time() + expiry, self._content_type), blob]
        sock = self._open()
        try:
            await asyncio.wait_for(sock.send_multipart(frames), expiry)
        except TimeoutError:
            self.metrics.counter("client.transport.zmq.send.timeout").increment()
            raise MessageSendTimeout(
                f"Could not send to {self.service_name} at {self.options.endpoint} within {expiry:g}s: "
                "no connection, or its queues are full"
            ) from None
        except zmq.ZMQError as exc:
            raise MessageSendError(f"Could not send to {self.service_name}: {exc}") from exc

    async def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        timeout = receive_timeout_in_seconds or self.options.receive_timeout_in_seconds
        deadline = time.monotonic() + timeout
        sock = self._open()
        limit = self.options.maximum_message_size_in_bytes
        while True:
            try:
                frames = await asyncio.wait_for(sock.recv_multipart(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                raise MessageReceiveTimeout(
                    f"nothing arrived from {self.service_name!r} at {self.options.endpoint} in {timeout:.3f} s"
                ) from None
            except zmq.ZMQError as exc:
                raise MessageReceiveError(f"Could not receive from {self.service_name}: {exc}") from exc
            if len(frames) == 2 and len(frames[1]) > limit:
                # Nobody can tell whose it is without decoding it: dropped; its caller times out.
                self.metrics.counter("client.transport.zmq.response_too_large").increment()
                _logger.error(
                    "Dropped a response of %s bytes from %s: larger than %s", len(frames[1]), self.service_name, limit
                )
                continue
            try:
                return self._decode(frames)
            except InvalidMessageError as exc:
                _logger.warning("Dropped an unreadable response from %s: %s", self.service_name, exc)

    def _decode(self, frames: list[bytes]) -> ReceivedMessage:
        if len(frames) != 2:
            raise InvalidMessageError(f"Response from {self.service_name} has {len(frames)} frames, not 2")
        header = parse_header(frames[0])
        if header.kind != RESPONSE:
            raise InvalidMessageError(f"Unexpected message kind {header.kind} from {self.service_name}")
        serializer = self._codec.serializers.serializer_for(header.content_type)
        try:
            message = serializer.blob_to_dict(frames[1])
        except DecodeError as exc:
            raise InvalidMessageError(f"Undecodable response from {self.service_name}: {exc}") from exc
        self.message_sizes.received(len(frames[1]))
        return ReceivedMessage(*split_response(message))

    async def aclose(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close(linger=0)
