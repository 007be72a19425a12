"""``OTelAsyncClientMiddleware``: the client spans and call metrics of :mod:`soa_otel.client`, for ``AsyncClient``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from conformity import fields

from pysoa.common.middleware.async_client import (
    AsyncClientMiddleware,
    AsyncRequestMiddlewareTask,
    AsyncResponseMiddlewareTask,
)
from pysoa.common.types import JobRequest, JobResponse
from pysoa.errors import TransportError

if TYPE_CHECKING:
    from pysoa.common.transport.async_base import AsyncClientTransport
    from soa_otel._telemetry import ClientJob, RPCTelemetry

__all__ = ["OTelAsyncClientMiddleware"]


class OTelAsyncClientMiddleware(AsyncClientMiddleware):
    """One CLIENT span per job, with one child span per action, from send to response; named ``otel`` too.

    The same spans, headers and metrics as :class:`soa_otel.client.OTelClientMiddleware`. A job's
    span is a child of the span current in the task that sends it (OpenTelemetry's context lives in
    ``contextvars``, so concurrent tasks each continue their own trace). Because the async client
    awaits each response by request id, a job is ended by its own outcome: its response, a receive
    timeout, a transport failure or the cancellation of the task awaiting it. Jobs sent but never
    awaited are ended once more than ``max_pending_jobs`` wait.
    """

    name: ClassVar[str] = "otel"
    settings_schema: ClassVar[fields.Base] = fields.Dictionary(
        {"max_pending_jobs": fields.Integer(gt=0, description="Spans of jobs never awaited kept open at most")},
        optional_keys=("max_pending_jobs",),
    )

    def __init__(self, max_pending_jobs: int = 10000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._max_pending = max_pending_jobs
        self._telemetry: RPCTelemetry | None = None
        # Only the event loop's thread touches it, and never across an await: no lock needed.
        self._pending: dict[Any, ClientJob] = {}

    def bind(self, service_name: str, transport: AsyncClientTransport) -> None:
        from soa_otel._telemetry import RPCTelemetry

        self._telemetry = RPCTelemetry(service_name, type(transport).name or type(transport).__name__)
        self._telemetry.observe_message_sizes(transport, client=True)

    def _bound(self) -> RPCTelemetry:
        if self._telemetry is None:
            raise RuntimeError("OTelAsyncClientMiddleware was not bound to a service (soa-core calls bind() first)")
        return self._telemetry

    def request(self, send_request: AsyncRequestMiddlewareTask) -> AsyncRequestMiddlewareTask:
        telemetry = self._bound()
        pending = self._pending

        async def send(request_id: Any, meta: dict[str, Any], job_request: JobRequest, expiry: float | None) -> None:
            job = telemetry.start_client_job(job_request.context, [action.action for action in job_request.actions])
            try:
                await send_request(request_id, meta, job_request, expiry)
            except BaseException as exc:
                if isinstance(exc, TransportError):
                    telemetry.count_transport_failure(exc)
                telemetry.abandon_client_job(job, exc)
                raise
            if job_request.control.get("suppress_response"):
                telemetry.end_unanswered_client_job(job)
                return
            pending[request_id] = job
            if len(pending) > self._max_pending:
                for stale in list(pending)[: len(pending) - self._max_pending]:
                    telemetry.abandon_client_job(pending.pop(stale), "not_collected")

        return send

    def response(self, get_response: AsyncResponseMiddlewareTask) -> AsyncResponseMiddlewareTask:
        telemetry = self._bound()
        pending = self._pending

        async def receive(request_id: Any, timeout: float | None) -> JobResponse:
            try:
                response = await get_response(request_id, timeout)
            except BaseException as exc:  # a timeout, a transport failure, or the awaiting task was cancelled
                if isinstance(exc, TransportError):
                    telemetry.count_transport_failure(exc)
                job = pending.pop(request_id, None)
                if job is not None:
                    telemetry.abandon_client_job(job, exc)
                raise
            job = pending.pop(request_id, None)
            if job is not None:
                telemetry.finish_client_job(job, response)
            return response

        return receive
