"""Server middleware: Django-style wrappers around jobs and actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from conformity import fields

from pysoa.common.types import ActionResponse, JobResponse

if TYPE_CHECKING:
    from pysoa.common.enriched_requests import EnrichedActionRequest, EnrichedJobRequest
    from pysoa.common.transport.base import ServerTransport

__all__ = [
    "ActionMiddlewareTask",
    "AsyncActionMiddlewareTask",
    "AsyncJobMiddlewareTask",
    "JobMiddlewareTask",
    "ServerMiddleware",
]

JobMiddlewareTask = Callable[["EnrichedJobRequest"], JobResponse]
ActionMiddlewareTask = Callable[["EnrichedActionRequest"], ActionResponse]
AsyncJobMiddlewareTask = Callable[["EnrichedJobRequest"], Awaitable[JobResponse]]
AsyncActionMiddlewareTask = Callable[["EnrichedActionRequest"], Awaitable[ActionResponse]]


class ServerMiddleware:
    """Base class: override ``job`` and/or ``action``; each takes the next callable and returns a wrapper.

    ``async_job`` and ``async_action`` are their counterparts for a worker that runs jobs
    concurrently (services with ``async def`` actions). The first middleware in the ``middleware``
    setting is the outermost. A :class:`~pysoa.errors.JobError`
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

    def async_job(self, process_job: AsyncJobMiddlewareTask) -> AsyncJobMiddlewareTask:
        """Wrap a job in a worker that runs jobs concurrently (``process_job`` is a coroutine function).

        A middleware that overrides :meth:`job` should override this too, or such a worker refuses
        to start (see ``async_jobs_per_worker``).
        """
        return process_job

    def async_action(self, process_action: AsyncActionMiddlewareTask) -> AsyncActionMiddlewareTask:
        """Wrap an ``async def`` action run concurrently (``process_action`` is a coroutine function).

        Sync actions always go through :meth:`action`, and so do async actions in a worker that
        runs one job at a time.
        """
        return process_action
