"""Client middleware: Django-style wrappers around sending requests and receiving responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from conformity import fields

from pysoa.common.types import JobRequest, JobResponse

if TYPE_CHECKING:
    from pysoa.common.transport.base import ClientTransport

__all__ = ["ClientMiddleware", "ClientRequestMiddlewareTask", "ClientResponseMiddlewareTask"]

# (request_id, meta, job_request, message_expiry_in_seconds) -> None
ClientRequestMiddlewareTask = Callable[[Any, dict[str, Any], JobRequest, float | None], None]
# (receive_timeout_in_seconds) -> (request_id, job_response), (None, None) when nothing is outstanding
ClientResponseMiddlewareTask = Callable[[float | None], tuple[Any, JobResponse | None]]


class ClientMiddleware:
    """Base class: override ``request`` and/or ``response``; each takes the next callable and returns a wrapper.

    The first middleware in the ``middleware`` setting is the outermost. Middleware may change
    ``meta`` (it travels in the envelope) or the :class:`JobRequest` before calling on.
    """

    name: ClassVar[str] = ""
    settings_schema: ClassVar[fields.Base] = fields.Dictionary({})

    def __init__(self, **kwargs: Any) -> None:
        pass

    def bind(self, service_name: str, transport: ClientTransport) -> None:
        """Called once, right after construction, with the service this instance serves and its transport.

        The default does nothing. Middleware that labels what it records (traces, metrics) by
        service or transport overrides it, so that the per-call wrappers need not look them up.
        """

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        return send_request

    def response(self, get_response: ClientResponseMiddlewareTask) -> ClientResponseMiddlewareTask:
        return get_response
