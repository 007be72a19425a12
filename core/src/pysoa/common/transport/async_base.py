"""The asyncio transport contract. An async transport plugin subclasses these two classes.

They mirror :mod:`pysoa.common.transport.base` with coroutines, for :class:`pysoa.client.AsyncClient`
and for servers that run ``async def`` actions concurrently. A plugin may provide sync classes,
async classes, or both under one ``name`` (docs/plugins.md): settings pick the sync class for a
:class:`~pysoa.client.Client` and the async class for an :class:`~pysoa.client.AsyncClient`.

Differences from the sync contract, both of which make one connection serve many tasks:

* a client transport is shared by every task of its client: :meth:`AsyncClientTransport.receive_response_message`
  returns the next response to *any* request sent through it (the client routes it by request id),
  so there is one reply address per transport, not one per thread;
* a server transport hands each request over with an opaque :class:`~pysoa.common.transport.message.ReplyRoute`,
  and the server gives the route back with the response: nothing transport-private rides in ``meta``.

A transport instance belongs to the event loop it was first used on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, NamedTuple

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.base import ReceivedMessage, Transport
from pysoa.common.transport.message import ReplyRoute
from pysoa.errors import InvalidMessageError

__all__ = ["AsyncClientTransport", "AsyncServerTransport", "IncomingRequest"]


class IncomingRequest(NamedTuple):
    """One request as an async server transport hands it over.

    ``refusal`` is set (and ``body`` is ``None``) for a malformed request that can still be answered:
    the server answers it with a job error through ``route``.
    """

    request_id: Any
    meta: dict[str, Any]
    body: dict[str, Any] | None
    route: ReplyRoute
    refusal: InvalidMessageError | None = None


class AsyncClientTransport(Transport, ABC):
    """Sends job requests to a service and receives the responses, without blocking the event loop.

    Built as ``cls(service_name, metrics, **kwargs)``, like the sync client transport; ``kwargs``
    come from the same settings. A transport that runs each request in the sending process sets
    ``serves_in_process``.
    """

    serves_in_process: ClassVar[bool] = False
    # How long a call without a timeout waits for its response (as the sync client waits for one
    # receive of its transport); ``None``: as long as it takes. Transports set it from their settings.
    receive_timeout_in_seconds: float | None = None

    @abstractmethod
    async def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        """Send one request; must not take longer than ``message_expiry_in_seconds`` when given.

        Raises :class:`~pysoa.errors.MessageTooLarge` and :class:`~pysoa.errors.EncodeError` before
        any I/O, and a :class:`~pysoa.errors.TransientTransportError` when the backend fails.
        """

    @abstractmethod
    async def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        """The next response to any request sent through this transport.

        Waits at most ``receive_timeout_in_seconds`` (``None``: the transport's own receive
        timeout), then raises :class:`~pysoa.errors.MessageReceiveTimeout`. Expired and unreadable
        responses are dropped here. Only one task calls this at a time (the client's reader).
        """

    async def aclose(self) -> None:
        """Release resources (optional)."""
        return


class AsyncServerTransport(Transport, ABC):
    """Receives job requests for a service and sends back the responses, without blocking the event loop.

    Built as ``cls(service_name, metrics, instance_index, **kwargs)``, like the sync server transport.
    """

    #: True when work can reach this worker while its event loop is blocked (a ZeroMQ lane stays ready at
    #: the router once idle). A sync action blocks the loop while it runs, so its call to its own service
    #: could come back to this very worker and wait for the action: a service that has sync actions then
    #: runs one job at a time unless ``async_jobs_per_worker`` is set explicitly.
    takes_work_while_blocked: ClassVar[bool] = False

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None, instance_index: int = 1) -> None:
        super().__init__(service_name, metrics)
        self.instance_index = instance_index

    @abstractmethod
    async def receive_request_message(self) -> IncomingRequest:
        """The next request, waiting at most the transport's receive timeout.

        Raises :class:`~pysoa.errors.MessageReceiveTimeout` when idle and
        :class:`~pysoa.errors.InvalidMessageError` for a malformed request nobody can be told about
        (one that can be answered comes back as an :class:`IncomingRequest` with a ``refusal``).
        """

    @abstractmethod
    async def send_response_message(
        self, route: ReplyRoute, request_id: Any, meta: dict[str, Any], body: dict[str, Any]
    ) -> None:
        """Send one response along ``route`` (as received with the request).

        Raises :class:`~pysoa.errors.MessageTooLarge` and :class:`~pysoa.errors.EncodeError` before
        any I/O (the server then answers ``RESPONSE_TOO_LARGE`` / ``RESPONSE_NOT_SERIALIZABLE``).
        """

    async def aclose(self) -> None:
        """Release resources at server shutdown (optional)."""
        return
