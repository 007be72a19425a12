"""``OTelServerMiddleware``: server spans and job/action metrics, continuing the caller's trace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from conformity import fields

from pysoa.common.middleware.server import (
    ActionMiddlewareTask,
    AsyncActionMiddlewareTask,
    AsyncJobMiddlewareTask,
    JobMiddlewareTask,
    ServerMiddleware,
)
from pysoa.common.types import ActionResponse, JobResponse

if TYPE_CHECKING:
    from pysoa.common.enriched_requests import EnrichedActionRequest, EnrichedJobRequest
    from pysoa.common.transport.base import ServerTransport
    from soa_otel._telemetry import RPCTelemetry

__all__ = ["OTelServerMiddleware"]


class OTelServerMiddleware(ServerMiddleware):
    """One SERVER span per job (a child of the caller's job span) and one per action, each current while it runs.

    Calls an action makes through ``request.client`` therefore become children of the action's span
    (with soa-otel in the client routing's middleware too) and carry the caller's baggage on.
    Records the job and action durations, errors by code, jobs in flight and the queue wait, with
    OpenTelemetry's global tracer and meter providers (see :class:`soa_otel.client.OTelClientMiddleware`).
    """

    name: ClassVar[str] = "otel"
    settings_schema: ClassVar[fields.Base] = fields.Dictionary({})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._telemetry: RPCTelemetry | None = None

    def bind(self, service_name: str, transport: ServerTransport) -> None:
        from soa_otel._telemetry import RPCTelemetry

        self._telemetry = RPCTelemetry(service_name, type(transport).name or type(transport).__name__, server=True)
        self._telemetry.observe_message_sizes(transport, client=False)

    def _bound(self) -> RPCTelemetry:
        if self._telemetry is None:
            raise RuntimeError("OTelServerMiddleware was not bound to a server (soa-core calls bind() first)")
        return self._telemetry

    def job(self, process_job: JobMiddlewareTask) -> JobMiddlewareTask:
        telemetry = self._bound()

        def run_job(job_request: EnrichedJobRequest) -> JobResponse:
            _forget_callers_headers(job_request.client)
            job = telemetry.start_server_job(job_request.context, [action.action for action in job_request.actions])
            try:
                response = process_job(job_request)
            except BaseException as exc:
                telemetry.finish_server_job(job, None, exc)
                raise
            telemetry.finish_server_job(job, response, None)
            return response

        return run_job

    def async_job(self, process_job: AsyncJobMiddlewareTask) -> AsyncJobMiddlewareTask:
        """As :meth:`job`, for a worker running jobs concurrently: each job runs in its own task.

        OpenTelemetry's current context lives in ``contextvars``, which every task has its own copy
        of, so concurrent jobs each see their own span as the current one (and so do their actions
        and the calls those make).
        """
        telemetry = self._bound()

        async def run_job(job_request: EnrichedJobRequest) -> JobResponse:
            _forget_callers_headers(job_request.client)
            job = telemetry.start_server_job(job_request.context, [action.action for action in job_request.actions])
            try:
                response = await process_job(job_request)
            except BaseException as exc:
                telemetry.finish_server_job(job, None, exc)
                raise
            telemetry.finish_server_job(job, response, None)
            return response

        return run_job

    def action(self, process_action: ActionMiddlewareTask) -> ActionMiddlewareTask:
        telemetry = self._bound()

        def run_action(request: EnrichedActionRequest) -> ActionResponse:
            # An async action's request.client is an AsyncClient of its own, with the job's context.
            _forget_callers_headers(request.client)
            action = telemetry.start_server_action(request.action)
            try:
                response = process_action(request)
            except BaseException as exc:
                telemetry.finish_server_action(action, None, exc)
                raise
            telemetry.finish_server_action(action, response, None)
            return response

        return run_action

    def async_action(self, process_action: AsyncActionMiddlewareTask) -> AsyncActionMiddlewareTask:
        telemetry = self._bound()

        async def run_action(request: EnrichedActionRequest) -> ActionResponse:
            _forget_callers_headers(request.client)
            action = telemetry.start_server_action(request.action)
            try:
                response = await process_action(request)
            except BaseException as exc:  # an ActionError, a crash, or harakiri's timeout cancelling the task
                telemetry.finish_server_action(action, None, exc)
                raise
            telemetry.finish_server_action(action, response, None)
            return response

        return run_action


def _forget_callers_headers(client: Any) -> None:
    """Drop the caller's trace headers from the context a chained client copied from the request.

    Chained calls must carry fresh headers (soa-otel in the client routing's middleware puts them
    in) or none, never the caller's: a hop without soa-otel would otherwise make the next server a
    child of the caller's span.
    """
    from soa_otel._telemetry import CONTEXT_KEY

    context = getattr(client, "context", None)
    if isinstance(context, dict):
        context.pop(CONTEXT_KEY, None)
