"""The transport contract. A transport plugin subclasses these two classes.

A transport moves *envelopes* ``(request_id, meta, body)`` between one client and the servers of
one service. ``body`` is a plain dict (a job request or a job response); ``meta`` is a dict of
transport and protocol data the server echoes back. Serialization is the transport's business,
through a :class:`~pysoa.common.serializer.base.Serializer` it resolves by name from its settings.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import Any, ClassVar, NamedTuple

from conformity import fields

from pysoa.common.metrics import MetricsRecorder, NoOpMetricsRecorder
from pysoa.common.transport.message import MessageSizes

__all__ = ["ClientTransport", "ReceivedMessage", "ServerTransport", "Transport", "get_hex_thread_id"]


class ReceivedMessage(NamedTuple):
    request_id: Any
    meta: dict[str, Any] | None
    body: dict[str, Any] | None


NO_MESSAGE = ReceivedMessage(None, None, None)


def get_hex_thread_id() -> str:
    """The current thread's id as at least 12 lowercase hex digits (PySOA's reply-queue suffix)."""
    return f"{threading.get_ident():012x}"


class Transport:
    """Common base. Subclasses set ``name`` (the plugin name) and ``settings_schema`` (their kwargs).

    ``message_sizes`` (a :class:`~pysoa.common.transport.message.MessageSizes`) is where a transport
    reports the size of each envelope it serializes or deserializes, for metrics middleware.
    """

    name: ClassVar[str] = ""
    settings_schema: ClassVar[fields.Base] = fields.SchemalessDictionary(key_type=fields.UnicodeString())

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None) -> None:
        if not isinstance(service_name, str):
            raise ValueError("service_name must be a str")
        self.service_name = service_name
        self.metrics: MetricsRecorder = metrics if metrics is not None else NoOpMetricsRecorder()
        # Where the transport reports the bytes of each envelope it sends and receives (metrics middleware listens).
        self.message_sizes = MessageSizes()


class ClientTransport(Transport, ABC):
    """Sends job requests to a service and receives the responses.

    A transport that runs each request synchronously in the sending process sets
    ``serves_in_process``: a service that calls itself over it needs no second worker.
    """

    serves_in_process: ClassVar[bool] = False

    @abstractmethod
    def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        """Send one request. Must not block past ``message_expiry_in_seconds`` when given.

        Raises :class:`~pysoa.errors.MessageTooLarge` before any I/O when the message is too big,
        :class:`~pysoa.errors.EncodeError` when the body cannot be serialized, and a
        :class:`~pysoa.errors.TransientTransportError` when the backend fails.
        """

    @abstractmethod
    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        """Return the next response for this client, waiting at most ``receive_timeout_in_seconds``.

        Returns ``ReceivedMessage(None, None, None)`` when no response is outstanding; raises
        :class:`~pysoa.errors.MessageReceiveTimeout` when one is, but none arrived in time.
        """

    def close(self) -> None:
        """Release resources (optional)."""
        return


class ServerTransport(Transport, ABC):
    """Receives job requests for a service and sends back the responses."""

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None, instance_index: int = 1) -> None:
        super().__init__(service_name, metrics)
        self.instance_index = instance_index

    @abstractmethod
    def receive_request_message(self) -> ReceivedMessage:
        """Return the next request, blocking for at most the transport's receive timeout.

        Raises :class:`~pysoa.errors.MessageReceiveTimeout` when idle. A malformed request raises
        :class:`~pysoa.errors.InvalidMessageError`; when the transport could still tell where to
        reply, the error's ``request_id`` and ``meta`` are set so the server can answer with a job
        error through :meth:`send_response_message`.
        """

    @abstractmethod
    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        """Send one response to the client that sent the request with this ``meta``.

        Raises :class:`~pysoa.errors.MessageTooLarge` (the server then answers ``RESPONSE_TOO_LARGE``)
        and :class:`~pysoa.errors.EncodeError` (``RESPONSE_NOT_SERIALIZABLE``) before any I/O.
        """

    def check_startup(self) -> None:
        """Check, once before the first request, that the backend is usable as configured (optional).

        Raise :class:`~pysoa.errors.ConfigurationError` with one line naming the problem when it
        cannot work as configured (refused credentials, missing permissions, a broken TLS set-up):
        the server then exits with :data:`~pysoa.server.standalone.EXIT_CONFIGURATION_ERROR` and is
        not respawned. A backend that is merely unreachable is not a configuration error.
        """
        return

    def close(self) -> None:
        """Release resources at server shutdown (optional)."""
        return
