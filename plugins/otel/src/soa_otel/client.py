"""``OTelClientMiddleware``: client spans and call metrics, and the trace headers in every job's context."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from conformity import fields

from pysoa.common.middleware.client import ClientMiddleware, ClientRequestMiddlewareTask, ClientResponseMiddlewareTask
from pysoa.common.types import JobRequest, JobResponse
from pysoa.errors import MessageReceiveTimeout, TransportError

if TYPE_CHECKING:
    from pysoa.common.transport.base import ClientTransport
    from soa_otel._telemetry import ClientJob, RPCTelemetry

__all__ = ["OTelClientMiddleware"]


class OTelClientMiddleware(ClientMiddleware):
    """One CLIENT span per job, with one child span per action, from send to response.

    The job's context gets an ``otel`` entry with the W3C ``traceparent``/``tracestate``/``baggage``
    headers of the job span (through OpenTelemetry's configured propagator) and the send time, so
    the server's spans join the trace and its queue wait can be measured. A job whose response
    never arrives is ended at the first receive timeout of the thread that sent it, and jobs
    sent but never collected are ended once more than ``max_pending_jobs`` wait.

    Spans and metrics go to OpenTelemetry's global tracer and meter providers, which the
    application sets up with the SDK (until it does, the API's no-op providers cost next to nothing).
    """

    name: ClassVar[str] = "otel"
    settings_schema: ClassVar[fields.Base] = fields.Dictionary(
        {"max_pending_jobs": fields.Integer(gt=0, description="Spans of uncollected jobs kept open at most")},
        optional_keys=("max_pending_jobs",),
    )

    def __init__(self, max_pending_jobs: int = 10000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._max_pending = max_pending_jobs
        self._telemetry: RPCTelemetry | None = None
        self._pending: dict[Any, ClientJob] = {}

    def bind(self, service_name: str, transport: ClientTransport) -> None:
        from soa_otel._telemetry import RPCTelemetry

        self._telemetry = RPCTelemetry(service_name, type(transport).name or type(transport).__name__)
        self._telemetry.observe_message_sizes(transport, client=True)

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        telemetry = self._telemetry
        if telemetry is None:
            raise RuntimeError("OTelClientMiddleware was not bound to a service (soa-core calls bind() first)")
        pending = self._pending

        def send(request_id: Any, meta: dict[str, Any], job_request: JobRequest, expiry: float | None) -> None:
            job = telemetry.start_client_job(job_request.context, [action.action for action in job_request.actions])
            job.thread = threading.get_ident()
            try:
                send_request(request_id, meta, job_request, expiry)
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
                self._evict_oldest(telemetry)

        return send

    def response(self, get_response: ClientResponseMiddlewareTask) -> ClientResponseMiddlewareTask:
        telemetry = self._telemetry
        if telemetry is None:
            raise RuntimeError("OTelClientMiddleware was not bound to a service (soa-core calls bind() first)")
        pending = self._pending

        def receive(timeout: float | None) -> tuple[Any, JobResponse | None]:
            try:
                request_id, response = get_response(timeout)
            except TransportError as exc:
                telemetry.count_transport_failure(exc)
                if isinstance(exc, MessageReceiveTimeout):
                    self._end_thread_jobs(telemetry, exc)
                raise
            if response is not None:
                job = pending.pop(request_id, None)
                if job is not None:
                    telemetry.finish_client_job(job, response)
            return request_id, response

        return receive

    def _end_thread_jobs(self, telemetry: RPCTelemetry, exc: BaseException) -> None:
        """A receive timed out: the jobs this thread waits for are given up (a late response is not traced)."""
        me = threading.get_ident()
        for request_id, job in list(self._pending.items()):
            if job.thread == me and self._pending.pop(request_id, None) is not None:
                telemetry.abandon_client_job(job, exc)

    def _evict_oldest(self, telemetry: RPCTelemetry) -> None:
        for request_id in list(self._pending)[: len(self._pending) - self._max_pending]:
            job = self._pending.pop(request_id, None)
            if job is not None:
                telemetry.abandon_client_job(job, "not_collected")
