"""Async client middleware: wrappers around sending a request and awaiting its response, for :class:`AsyncClient`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from conformity import fields

from pysoa.common.types import JobRequest, JobResponse

if TYPE_CHECKING:
    from pysoa.common.transport.async_base import AsyncClientTransport

__all__ = ["AsyncClientMiddleware", "AsyncRequestMiddlewareTask", "AsyncResponseMiddlewareTask"]

# (request_id, meta, job_request, message_expiry_in_seconds) -> None
AsyncRequestMiddlewareTask: TypeAlias = Callable[[Any, dict[str, Any], JobRequest, float | None], Awaitable[None]]
# (request_id, receive_timeout_in_seconds) -> the response to that request
AsyncResponseMiddlewareTask: TypeAlias = Callable[[Any, float | None], Awaitable[JobResponse]]


class AsyncClientMiddleware:
    """Base class: override ``request`` and/or ``response``; each takes the next coroutine function and returns one.

    Registered like :class:`~pysoa.client.middleware.ClientMiddleware` (hook
    ``pysoa_register_middleware``) and listed by name in the ``middleware`` setting of an
    :class:`~pysoa.client.AsyncClient`; the first is the outermost. Unlike the sync response
    middleware, which wraps "receive the next response of this thread", the async one wraps
    "await the response to this request": concurrent calls share one connection, so each waits for
    its own response. Several calls may be inside a middleware at once: keep per-call state in
    local variables, not on the instance.
    """

    name: ClassVar[str] = ""
    settings_schema: ClassVar[fields.Base] = fields.Dictionary({})

    def __init__(self, **kwargs: Any) -> None:
        pass

    def bind(self, service_name: str, transport: AsyncClientTransport) -> None:
        """Called once, right after construction, with the service this instance serves and its transport.

        The default does nothing. As with ``ClientMiddleware.bind``, middleware that labels what it
        records (traces, metrics) by service or transport overrides it.
        """

    def request(self, send_request: AsyncRequestMiddlewareTask) -> AsyncRequestMiddlewareTask:
        return send_request

    def response(self, get_response: AsyncResponseMiddlewareTask) -> AsyncResponseMiddlewareTask:
        return get_response
