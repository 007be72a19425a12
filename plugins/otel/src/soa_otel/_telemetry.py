"""The span and metric logic of soa-otel, independent of how a job is carried.

The middleware classes (``soa_otel.client``, ``soa_otel.server``) are thin adapters: they call
``start_*``/``finish_*`` here around the next callable. Nothing here blocks or depends on being
called from one thread or one coroutine, so an asyncio client or server middleware can reuse the
same calls around ``await``-ed callables. The per-call cost is the OpenTelemetry SDK's: a span or
two, a few instrument updates with attribute dicts built once per service.

Names follow OpenTelemetry's RPC semantic conventions (``rpc.system``, ``rpc.service``,
``rpc.method``, spans named ``service/method`` of kind CLIENT/SERVER, ``error.type`` on failure),
with ``soa.*`` names for what the conventions do not cover. ``rpc.system`` is ``pysoa``: the wire
protocol is PySOA's.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from pysoa.common.constants import ERROR_CODE_SERVER_ERROR
from pysoa.common.types import ActionResponse, Error, JobResponse
from pysoa.version import __version__

if TYPE_CHECKING:
    from pysoa.common.transport.base import Transport

__all__ = [
    "CONTEXT_KEY",
    "DURATION_BUCKETS",
    "RPC_SYSTEM",
    "SIZE_BUCKETS",
    "ClientJob",
    "RPCTelemetry",
    "ServerAction",
    "ServerJob",
]

RPC_SYSTEM = "pysoa"
# The job context key carrying the W3C headers (traceparent, tracestate, baggage) and the send time.
# PySOA 1.4 allows extra context keys and ignores this one.
CONTEXT_KEY = "otel"
SENT_AT_KEY = "sent_at"
# Seconds: RPC latencies from sub-millisecond local calls to slow, timed-out ones.
DURATION_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
# Bytes: from an empty job's envelope (~100 bytes) to the largest messages transports allow by default.
SIZE_BUCKETS: tuple[float, ...] = (
    128,
    512,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)

_INSTRUMENTATION = "soa_otel"


def _first_code(errors: Iterable[Error]) -> str | None:
    for error in errors:
        return str(error.code)
    return None


def _response_error_code(response: JobResponse) -> str | None:
    """The code that stands for a failed job: its first job error, else its first failed action's first error."""
    code = _first_code(response.errors)
    if code is not None:
        return code
    for action in response.actions:
        code = _first_code(action.errors)
        if code is not None:
            return code
    return None


def _exception_codes(exc: BaseException) -> list[str]:
    """The error codes the server turns ``exc`` into: an ActionError's/JobError's own, else SERVER_ERROR."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return [str(getattr(error, "code", ERROR_CODE_SERVER_ERROR)) for error in errors]
    if isinstance(exc, Exception):
        return [ERROR_CODE_SERVER_ERROR]
    return [type(exc).__name__]  # e.g. the harakiri interrupt, which ends the job with a timeout


def _mark_failed(span: Span, codes: Sequence[str]) -> None:
    span.set_attribute("error.type", codes[0])
    span.set_attribute("soa.error.codes", list(codes))
    # The code only: an error's message may carry request data that must not leave the service.
    span.set_status(Status(StatusCode.ERROR, codes[0]))


# Every live server's telemetry, for the one in-flight callback of the process. The SDK keeps the
# first callback registered under an instrument name (and keeps it for good), so one callback
# reports every server, and a weak set lets servers that are gone drop out.
_SERVERS: weakref.WeakSet[RPCTelemetry] = weakref.WeakSet()
_in_flight_instrument: list[object] = []


def _observe_in_flight(_options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    return [metrics.Observation(server.jobs_in_flight, server.base_attributes) for server in list(_SERVERS)]


def _watch_in_flight(telemetry: RPCTelemetry, meter: metrics.Meter) -> None:
    _SERVERS.add(telemetry)
    if not _in_flight_instrument:
        _in_flight_instrument.append(
            meter.create_observable_up_down_counter(
                "soa.server.jobs.in_flight",
                callbacks=[_observe_in_flight],
                unit="{job}",
                description="Jobs a server is running now",
            )
        )


class _SizeRecorder:
    """A transport's message size observer (see ``pysoa.common.transport.message.MessageSizes``)."""

    __slots__ = ("_attributes", "_received", "_sent")

    def __init__(self, sent: metrics.Histogram, received: metrics.Histogram, attributes: dict[str, str]) -> None:
        self._sent = sent
        self._received = received
        self._attributes = attributes

    def sent(self, size: int) -> None:
        self._sent.record(size, self._attributes)

    def received(self, size: int) -> None:
        self._received.record(size, self._attributes)


@dataclass
class ClientJob:
    """One job a client sent, until its response arrives (or it is given up)."""

    span: Span
    action_spans: list[Span]
    started: float
    attributes: dict[str, str]
    thread: int = 0


@dataclass
class ServerJob:
    """One job a server is running."""

    span: Span
    token: object
    started: float
    attributes: dict[str, str]


@dataclass
class ServerAction:
    """One action a server is running."""

    span: Span
    token: object
    started: float
    attributes: dict[str, str] = field(default_factory=dict)


class RPCTelemetry:
    """Spans and metrics for one service, seen from a client or from a server.

    Uses the global tracer and meter providers, set up by the application with the OpenTelemetry
    SDK (until it does, the API's no-op providers make every call cheap).
    """

    def __init__(self, service_name: str, transport_name: str, server: bool = False) -> None:
        """``server``: this records a server's side (only a server has jobs in flight to report)."""
        self.service_name = service_name
        self.tracer = trace.get_tracer(_INSTRUMENTATION, __version__)
        meter = metrics.get_meter(_INSTRUMENTATION, __version__)
        # Attribute dicts are built once; per call only the error code and action are added.
        self.base_attributes = {
            "rpc.system": RPC_SYSTEM,
            "rpc.service": service_name,
            "soa.transport": transport_name,
        }
        self.client_duration = meter.create_histogram(
            "rpc.client.duration",
            unit="s",
            description="Time from sending a job to receiving its response, per job",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.server_duration = meter.create_histogram(
            "rpc.server.duration",
            unit="s",
            description="Time a server spent running a job (all its actions and the job middleware)",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.action_duration = meter.create_histogram(
            "soa.server.action.duration",
            unit="s",
            description="Time a server spent running one action",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.queue_wait = meter.create_histogram(
            "soa.server.queue_wait",
            unit="s",
            description="Time from the client sending a job to the server starting it (wall clocks of two hosts)",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.client_errors = meter.create_counter(
            "soa.client.errors", unit="{error}", description="Errors in responses a client received, by code"
        )
        self.server_errors = meter.create_counter(
            "soa.server.errors", unit="{error}", description="Errors in responses a server sent, by code"
        )
        self.transport_failures = meter.create_counter(
            "soa.client.transport.failures",
            unit="{failure}",
            description="Sends and receives that raised a transport error, by exception class",
        )
        self._meter = meter
        # Jobs in flight: a plain integer per call, read by the SDK only when metrics are collected.
        self.jobs_in_flight = 0
        if server:
            _watch_in_flight(self, meter)

    def observe_message_sizes(self, transport: Transport, client: bool) -> None:
        """Record the size of every envelope ``transport`` sends and receives (``rpc.{client,server}.*.size``).

        The transport reports them through its ``message_sizes`` hook; one that never reports (a
        third-party transport that does not call it, the local transport with ``serialize: False``)
        simply records nothing.
        """
        sizes = getattr(transport, "message_sizes", None)
        if sizes is None:
            return
        side = "client" if client else "server"
        request = self._meter.create_histogram(
            f"rpc.{side}.request.size",
            unit="By",
            description="Size of each serialized request envelope",
            explicit_bucket_boundaries_advisory=SIZE_BUCKETS,
        )
        response = self._meter.create_histogram(
            f"rpc.{side}.response.size",
            unit="By",
            description="Size of each serialized response envelope",
            explicit_bucket_boundaries_advisory=SIZE_BUCKETS,
        )
        # A client sends requests and receives responses; a server the reverse.
        sent, received = (request, response) if client else (response, request)
        sizes.observer = _SizeRecorder(sent, received, self.base_attributes)

    def _job_attributes(self, context: Mapping[str, Any], action_names: list[str]) -> dict[str, Any]:
        """A job span's attributes, given at its start (one validation pass, no lock taken per attribute)."""
        attributes: dict[str, Any] = {**self.base_attributes, "soa.actions": action_names}
        correlation_id = context.get("correlation_id")
        if isinstance(correlation_id, str):
            attributes["soa.correlation_id"] = correlation_id
        return attributes

    # --- client side -------------------------------------------------------------------------------

    def start_client_job(self, context: dict[str, Any], action_names: list[str]) -> ClientJob:
        """Start the client job span and one span per action; put the trace headers into ``context``.

        ``context`` is the job's request context; its ``otel`` entry is replaced (a context copied
        from an incoming request carries the caller's headers, which must not be passed on).
        """
        now = time.monotonic()
        attributes = self.base_attributes
        span = self.tracer.start_span(
            f"{self.service_name}/job", kind=SpanKind.CLIENT, attributes=self._job_attributes(context, action_names)
        )
        job_context = trace.set_span_in_context(span)
        action_spans = [
            self.tracer.start_span(
                f"{self.service_name}/{name}",
                context=job_context,
                kind=SpanKind.CLIENT,
                attributes={**attributes, "rpc.method": name},
            )
            for name in action_names
        ]
        # The server's spans are children of the job span: one hop, one parent.
        carrier: dict[str, Any] = {}
        propagate.inject(carrier, context=job_context)
        carrier[SENT_AT_KEY] = time.time()
        context[CONTEXT_KEY] = carrier
        return ClientJob(span, action_spans, now, attributes)

    def finish_client_job(self, job: ClientJob, response: JobResponse) -> None:
        """End the spans of ``job`` with the outcome in ``response`` and record the call."""
        elapsed = time.monotonic() - job.started
        errors = self.client_errors
        for index, span in enumerate(job.action_spans):
            action = response.actions[index] if index < len(response.actions) else None
            if action is None:
                span.set_attribute("soa.action.skipped", True)  # a job error, or an earlier action failed
            else:
                self._finish_action_errors(span, action, errors)
            span.end()
        job_codes = [str(error.code) for error in response.errors]
        for job_code in job_codes:
            errors.add(1, {**job.attributes, "error.type": job_code})
        if job_codes:
            _mark_failed(job.span, job_codes)
        code = _response_error_code(response)
        self.client_duration.record(elapsed, job.attributes if code is None else {**job.attributes, "error.type": code})
        job.span.end()

    def end_unanswered_client_job(self, job: ClientJob) -> None:
        """End the spans of a job sent with ``suppress_response``: sent is all it does (no duration is recorded)."""
        job.span.set_attribute("soa.response_suppressed", True)
        for span in job.action_spans:
            span.end()
        job.span.end()

    def abandon_client_job(self, job: ClientJob, reason: BaseException | str) -> None:
        """End the spans of a job whose response will not be seen (timeout, transport failure, given up)."""
        kind = reason if isinstance(reason, str) else type(reason).__name__
        for span in job.action_spans:
            span.end()
        if isinstance(reason, BaseException):
            job.span.record_exception(reason)
        job.span.set_attribute("error.type", kind)
        job.span.set_status(Status(StatusCode.ERROR, kind))
        self.client_duration.record(time.monotonic() - job.started, {**job.attributes, "error.type": kind})
        job.span.end()

    def count_transport_failure(self, exc: BaseException) -> None:
        self.transport_failures.add(1, {**self.base_attributes, "error.type": type(exc).__name__})

    def _finish_action_errors(self, span: Span, action: ActionResponse, counter: metrics.Counter) -> None:
        if not action.errors:
            return
        codes = [str(error.code) for error in action.errors]
        attributes = {**self.base_attributes, "rpc.method": action.action}
        for code in codes:
            counter.add(1, {**attributes, "error.type": code})
        _mark_failed(span, codes)

    # --- server side -------------------------------------------------------------------------------

    def start_server_job(self, context: Mapping[str, Any], action_names: list[str]) -> ServerJob:
        """Start the server job span as a child of the caller's (from ``context``) and make it current."""
        now = time.monotonic()
        carrier = context.get(CONTEXT_KEY)
        # A server is an entry point: without the caller's headers its job starts a trace of its own,
        # even where it runs inside the caller's thread (the local transport).
        parent = otel_context.Context()
        if isinstance(carrier, dict):
            parent = propagate.extract(carrier)
            sent_at = carrier.get(SENT_AT_KEY)
            if isinstance(sent_at, float | int):
                wait = time.time() - sent_at
                if wait >= 0:  # a negative wait is clock skew between hosts, not a measurement
                    self.queue_wait.record(wait, self.base_attributes)
        span = self.tracer.start_span(
            f"{self.service_name}/job",
            context=parent,
            kind=SpanKind.SERVER,
            attributes=self._job_attributes(context, action_names),
        )
        # Baggage from the caller stays in the current context, with the span: chained calls pass it on.
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        self.jobs_in_flight += 1
        return ServerJob(span, token, now, self.base_attributes)

    def finish_server_job(self, job: ServerJob, response: JobResponse | None, exc: BaseException | None) -> None:
        """End the job span (``exc``: the job middleware below raised) and record the job."""
        try:
            self.jobs_in_flight -= 1
            code: str | None = None
            job_codes: list[str] = []
            if exc is not None:
                job.span.record_exception(exc)
                job_codes = _exception_codes(exc)
            elif response is not None:
                job_codes = [str(error.code) for error in response.errors]
                code = _response_error_code(response)
            for job_code in job_codes:
                self.server_errors.add(1, {**job.attributes, "error.type": job_code})
            if job_codes:
                code = job_codes[0]
                _mark_failed(job.span, job_codes)
            attributes = job.attributes if code is None else {**job.attributes, "error.type": code}
            self.server_duration.record(time.monotonic() - job.started, attributes)
            job.span.end()
        finally:
            otel_context.detach(job.token)  # type: ignore[arg-type]

    def start_server_action(self, name: str) -> ServerAction:
        """Start an action span (a child of the current job span) and make it current."""
        attributes = {**self.base_attributes, "rpc.method": name}
        span = self.tracer.start_span(f"{self.service_name}/{name}", kind=SpanKind.SERVER, attributes=attributes)
        token = otel_context.attach(trace.set_span_in_context(span))
        return ServerAction(span, token, time.monotonic(), attributes)

    def finish_server_action(
        self, action: ServerAction, response: ActionResponse | None, exc: BaseException | None
    ) -> None:
        try:
            code: str | None = None
            if exc is not None:
                codes = _exception_codes(exc)
                action.span.record_exception(exc)
            elif response is not None and response.errors:
                codes = [str(e.code) for e in response.errors]
            else:
                codes = []
            for error_code in codes:
                self.server_errors.add(1, {**action.attributes, "error.type": error_code})
            if codes:
                code = codes[0]
                _mark_failed(action.span, codes)
            attributes = action.attributes if code is None else {**action.attributes, "error.type": code}
            self.action_duration.record(time.monotonic() - action.started, attributes)
            action.span.end()
        finally:
            otel_context.detach(action.token)  # type: ignore[arg-type]
