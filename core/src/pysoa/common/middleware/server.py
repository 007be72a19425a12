"""Server middleware: Django-style wrappers around jobs and actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from conformity import fields

from pysoa.common.types import ActionResponse, JobResponse

if TYPE_CHECKING:
    from pysoa.common.enriched_requests import EnrichedActionRequest, EnrichedJobRequest
    from pysoa.common.transport.base import ServerTransport

__all__ = ["ActionMiddlewareTask", "JobMiddlewareTask", "ServerMiddleware"]

JobMiddlewareTask = Callable[["EnrichedJobRequest"], JobResponse]
ActionMiddlewareTask = Callable[["EnrichedActionRequest"], ActionResponse]


class ServerMiddleware:
    """Base class: override ``job`` and/or ``action``; each takes the next callable and returns a wrapper.

    The first middleware in the ``middleware`` setting is the outermost. A :class:`~pysoa.errors.JobError`
    raised by job middleware becomes job errors; any other exception a ``SERVER_ERROR``.
    """

    name: ClassVar[str] = ""
    settings_schema: ClassVar[fields.Base] = fields.Dictionary({})

    def __init__(self, **kwargs: Any) -> None:
        pass

    def bind(self, service_name: str, transport: ServerTransport) -> None:
        """Called once, right after construction, with the server's service name and transport.

        The default does nothing. Middleware that labels what it records (traces, metrics) by
        service or transport overrides it, so that the per-job wrappers need not look them up.
        """

    def job(self, process_job: JobMiddlewareTask) -> JobMiddlewareTask:
        return process_job

    def action(self, process_action: ActionMiddlewareTask) -> ActionMiddlewareTask:
        return process_action
