"""soa-otel's middleware in one process, over the local transport: span shape, errors, baggage, metrics."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import baggage, context, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from pysoa.client import Client
from pysoa.errors import CallJobError, MessageReceiveTimeout
from soa_otel.metrics import OTelMetricsRecorder
from soa_redis._backend import reset_backends
from tests.redis_transport.servers import REDIS_SERVER, start_redis

from .conftest import Telemetry
from .services import BACK, FRONT, BackServer, FrontServer


def local(server_class: type, server_middleware: list[Any], client_middleware: list[Any], **server: Any) -> Any:
    kwargs = {"server_class": server_class, "server_settings": {"middleware": server_middleware, **server}}
    return {"transport": {"name": "local", "kwargs": kwargs}, "middleware": client_middleware}


def make_client(chained_middleware: tuple[str, ...] = ("otel",)) -> Client:
    """A client for ``otel_front`` and ``otel_back``; the front's own client uses ``chained_middleware``."""
    back = local(BackServer, ["otel"], list(chained_middleware))
    front = local(FrontServer, ["otel"], ["otel"], client_routing={BACK: back})
    return Client({FRONT: front, BACK: local(BackServer, ["otel"], ["otel"])})


def by_name(spans: list[ReadableSpan], name: str, kind: SpanKind) -> ReadableSpan:
    found = [span for span in spans if span.name == name and span.kind == kind]
    assert len(found) == 1, [(span.name, span.kind) for span in spans]
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


def span_id(span: ReadableSpan) -> int:
    context = span.get_span_context()
    assert context is not None
    return context.span_id


def test_a_chained_call_is_one_trace_with_client_and_server_spans_per_job_and_action(telemetry: Telemetry) -> None:
    response = make_client().call_action(FRONT, "relay", {}, timeout=10)
    assert response.body["back"]["hello"] == "front"

    spans = telemetry.finished()
    assert len(spans) == 8
    assert len({span.context.trace_id for span in spans if span.context}) == 1
    client_job = by_name(spans, f"{FRONT}/job", SpanKind.CLIENT)
    client_action = by_name(spans, f"{FRONT}/relay", SpanKind.CLIENT)
    server_job = by_name(spans, f"{FRONT}/job", SpanKind.SERVER)
    server_action = by_name(spans, f"{FRONT}/relay", SpanKind.SERVER)
    back_client_job = by_name(spans, f"{BACK}/job", SpanKind.CLIENT)
    back_client_action = by_name(spans, f"{BACK}/hello", SpanKind.CLIENT)
    back_job = by_name(spans, f"{BACK}/job", SpanKind.SERVER)
    back_action = by_name(spans, f"{BACK}/hello", SpanKind.SERVER)

    assert client_job.parent is None
    assert parent_of(client_action) == span_id(client_job)
    assert parent_of(server_job) == span_id(client_job)
    assert parent_of(server_action) == span_id(server_job)
    assert parent_of(back_client_job) == span_id(server_action)  # request.client runs inside the action span
    assert parent_of(back_client_action) == span_id(back_client_job)
    assert parent_of(back_job) == span_id(back_client_job)
    assert parent_of(back_action) == span_id(back_job)
    # The action saw its own span as the current one.
    assert response.body["back"]["trace_id"] == format(back_action.context.trace_id, "032x")

    assert back_action.attributes is not None
    assert dict(back_action.attributes) == {
        "rpc.system": "pysoa",
        "rpc.service": BACK,
        "rpc.method": "hello",
        "soa.transport": "local",
    }
    assert server_job.attributes is not None
    assert server_job.attributes["soa.actions"] == ("relay",)
    assert all(span.status.status_code == StatusCode.UNSET for span in spans)


def test_an_action_error_marks_the_action_spans_and_the_job_spans_stay_ok_for_job_errors_only(
    telemetry: Telemetry,
) -> None:
    response = make_client().call_actions(
        BACK, [{"action": "hello"}, {"action": "fail"}], raise_action_errors=False, timeout=10
    )
    assert [action.errors[0].code for action in response.actions if action.errors] == ["NOPE"]
    spans = telemetry.finished()
    for kind in (SpanKind.CLIENT, SpanKind.SERVER):
        failed = by_name(spans, f"{BACK}/fail", kind)
        assert failed.status.status_code == StatusCode.ERROR
        assert failed.status.description == "NOPE"  # the code, never the message
        assert failed.attributes is not None
        assert failed.attributes["error.type"] == "NOPE"
        assert by_name(spans, f"{BACK}/hello", kind).status.status_code == StatusCode.UNSET
        assert by_name(spans, f"{BACK}/job", kind).status.status_code == StatusCode.UNSET


def test_an_unexpected_exception_is_a_server_error_on_the_server_action_span(telemetry: Telemetry) -> None:
    response = make_client().call_actions(BACK, [{"action": "crash"}], raise_action_errors=False, timeout=10)
    assert response.actions[0].errors[0].code == "SERVER_ERROR"
    spans = telemetry.finished()
    server_action = by_name(spans, f"{BACK}/crash", SpanKind.SERVER)
    assert server_action.status.status_code == StatusCode.ERROR
    assert server_action.attributes is not None
    assert server_action.attributes["error.type"] == "SERVER_ERROR"
    assert [event.name for event in server_action.events] == ["exception"]
    assert by_name(spans, f"{BACK}/crash", SpanKind.CLIENT).attributes["error.type"] == "SERVER_ERROR"  # type: ignore[index]


def test_a_job_error_marks_the_job_spans_and_the_actions_are_skipped(telemetry: Telemetry) -> None:
    refuse = {"path": "tests.otel.services:RefuseJobs"}
    client = Client({BACK: local(BackServer, ["otel", refuse], ["otel"])})
    before = telemetry.total("soa.server.errors", **{"rpc.service": BACK, "error.type": "REFUSED"})
    with pytest.raises(CallJobError):
        client.call_action(BACK, "hello", timeout=10)
    spans = telemetry.finished()
    for kind in (SpanKind.CLIENT, SpanKind.SERVER):
        job = by_name(spans, f"{BACK}/job", kind)
        assert job.status.status_code == StatusCode.ERROR
        assert job.attributes is not None
        assert job.attributes["soa.error.codes"] == ("REFUSED",)
    client_action = by_name(spans, f"{BACK}/hello", SpanKind.CLIENT)
    assert client_action.attributes is not None
    assert client_action.attributes["soa.action.skipped"] is True
    assert not [span for span in spans if span.name == f"{BACK}/hello" and span.kind == SpanKind.SERVER]
    assert telemetry.total("soa.server.errors", **{"rpc.service": BACK, "error.type": "REFUSED"}) == before + 1


def test_baggage_travels_with_the_trace_across_both_hops(telemetry: Telemetry) -> None:
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        response = make_client().call_action(FRONT, "relay", {}, timeout=10)
    finally:
        context.detach(token)
    assert response.body["back"]["tenant"] == "acme"


def test_a_chained_client_without_soa_otel_does_not_pass_the_callers_headers_on(telemetry: Telemetry) -> None:
    response = make_client(chained_middleware=()).call_action(FRONT, "relay", {}, timeout=10)
    assert "otel" not in response.body["back"]["context_keys"]
    spans = telemetry.finished()
    back_job = by_name(spans, f"{BACK}/job", SpanKind.SERVER)
    assert back_job.parent is None  # a trace of its own, not a child of the front's client span
    front_trace = by_name(spans, f"{FRONT}/job", SpanKind.SERVER).context.trace_id
    assert back_job.context.trace_id != front_trace


def test_the_headers_ride_in_the_job_context_under_otel(telemetry: Telemetry) -> None:
    response = make_client().call_action(BACK, "hello", timeout=10)
    assert "otel" in response.body["context_keys"]
    job_span = by_name(telemetry.finished(), f"{BACK}/job", SpanKind.CLIENT)
    assert job_span.context is not None
    assert response.body["trace_id"] == format(job_span.context.trace_id, "032x")


def test_metrics_record_durations_errors_queue_wait_and_in_flight(telemetry: Telemetry) -> None:
    back = {"rpc.service": BACK}
    names = (
        "rpc.client.duration",
        "rpc.server.duration",
        "soa.server.queue_wait",
    )
    before = {name: telemetry.total(name, **back) for name in names}
    hello_before = telemetry.total("soa.server.action.duration", **back, **{"rpc.method": "hello"})
    errors_before = {
        side: telemetry.total(side, **back, **{"rpc.method": "fail", "error.type": "NOPE"})
        for side in ("soa.client.errors", "soa.server.errors")
    }
    failed_calls_before = telemetry.total("rpc.client.duration", **back, **{"error.type": "NOPE"})
    client = make_client()
    client.call_action(BACK, "hello", timeout=10)
    client.call_actions(BACK, [{"action": "fail"}], raise_action_errors=False, timeout=10)

    for name in names:
        assert telemetry.total(name, **back) == before[name] + 2, name
    assert telemetry.total("soa.server.action.duration", **back, **{"rpc.method": "hello"}) == hello_before + 1
    for side, count in errors_before.items():
        assert telemetry.total(side, **back, **{"rpc.method": "fail", "error.type": "NOPE"}) == count + 1, side
    assert telemetry.total("rpc.client.duration", **back, **{"error.type": "NOPE"}) == failed_calls_before + 1
    assert telemetry.total("soa.server.jobs.in_flight", **back) == 0
    attributes = {tuple(sorted(point.attributes or {})) for point in telemetry.points("rpc.server.duration", **back)}
    # Low cardinality: never a request id, correlation id or body value.
    assert attributes <= {
        ("rpc.service", "rpc.system", "soa.transport"),
        ("error.type", "rpc.service", "rpc.system", "soa.transport"),
    }


def test_a_receive_timeout_ends_the_client_spans_and_counts_a_transport_failure(telemetry: Telemetry) -> None:
    if REDIS_SERVER is None:
        pytest.fail("redis-server is needed (scripts/ensure-redis.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        server = start_redis(Path(tmp))
        try:
            transport = {"name": "redis", "kwargs": {"url": server.url}}
            client = Client({BACK: {"transport": transport, "middleware": ["otel"]}})  # nobody serves otel_back
            key = {"rpc.service": BACK, "error.type": "MessageReceiveTimeout", "soa.transport": "redis"}
            before = telemetry.total("soa.client.transport.failures", **key)
            with pytest.raises(MessageReceiveTimeout):
                client.call_action(BACK, "hello", timeout=0.3)
            client.close()
        finally:
            server.stop()
    assert telemetry.total("soa.client.transport.failures", **key) == before + 1
    job = by_name(telemetry.finished(), f"{BACK}/job", SpanKind.CLIENT)
    assert job.status.status_code == StatusCode.ERROR
    assert job.attributes is not None
    assert job.attributes["error.type"] == "MessageReceiveTimeout"


def test_a_job_sent_with_suppress_response_ends_its_client_span_at_once(telemetry: Telemetry) -> None:
    client = make_client()
    client.send_request(BACK, [{"action": "hello"}], suppress_response=True)
    spans = telemetry.finished()
    client_job = by_name(spans, f"{BACK}/job", SpanKind.CLIENT)
    assert client_job.attributes is not None
    assert client_job.attributes["soa.response_suppressed"] is True
    assert client_job.status.status_code == StatusCode.UNSET  # not an error: nothing was to come back
    assert by_name(spans, f"{BACK}/hello", SpanKind.CLIENT).end_time is not None
    assert by_name(spans, f"{BACK}/job", SpanKind.SERVER).status.status_code == StatusCode.UNSET


def test_jobs_never_collected_are_ended_once_more_than_max_pending_jobs_wait(telemetry: Telemetry) -> None:
    otel = {"name": "otel", "kwargs": {"max_pending_jobs": 2}}
    client = Client({BACK: local(BackServer, ["otel"], [otel])})

    def client_jobs() -> list[ReadableSpan]:
        return [span for span in telemetry.finished() if span.name == f"{BACK}/job" and span.kind == SpanKind.CLIENT]

    for _ in range(2):
        client.send_request(BACK, [{"action": "hello"}])
    assert client_jobs() == []  # two jobs wait: at the limit, nothing is given up
    client.send_request(BACK, [{"action": "hello"}])
    [evicted] = client_jobs()  # the third: the oldest is ended, as not collected
    assert evicted.status.status_code == StatusCode.ERROR
    assert evicted.attributes is not None
    assert evicted.attributes["error.type"] == "not_collected"

    assert len(list(client.get_all_responses(BACK, receive_timeout_in_seconds=10))) == 3
    # The two still waiting end with their responses; the evicted one's response ends nothing twice.
    collected = client_jobs()
    assert len(collected) == 3
    assert [span.status.status_code for span in collected[1:]] == [StatusCode.UNSET, StatusCode.UNSET]


def test_the_current_span_of_the_caller_is_the_parent_of_the_client_span(telemetry: Telemetry) -> None:
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("caller") as caller:
        make_client().call_action(BACK, "hello", timeout=10)
    job = by_name(telemetry.finished(), f"{BACK}/job", SpanKind.CLIENT)
    assert parent_of(job) == caller.get_span_context().span_id


def test_json_log_lines_written_in_an_action_carry_its_trace_and_span_ids(telemetry: Telemetry) -> None:
    import json
    import logging

    from pysoa.common.json_logging import JSONFormatter

    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Capture()
    handler.setFormatter(JSONFormatter())
    loggers = [logging.getLogger("pysoa.server.job"), logging.getLogger("tests.otel.services")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        client = Client({BACK: local(BackServer, ["otel"], ["otel"], request_log_success_level="INFO")})
        client.call_action(BACK, "hello", timeout=10)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
    action = by_name(telemetry.finished(), f"{BACK}/hello", SpanKind.SERVER)
    assert action.context is not None
    trace_id = format(action.context.trace_id, "032x")
    request_line, action_line, response_line = (json.loads(line) for line in lines)
    assert action_line["message"] == "hello from hello"
    assert (action_line["trace_id"], action_line["span_id"]) == (trace_id, format(action.context.span_id, "016x"))
    # The job request and response are logged outside the server's spans: the request's traceparent gives the trace.
    for line in (request_line, response_line):
        assert line["trace_id"] == trace_id
        assert "span_id" not in line


def test_only_servers_report_jobs_in_flight(telemetry: Telemetry) -> None:
    """A client registers no in-flight callback: clients may be built by the thousand, callbacks live forever."""
    from soa_otel._telemetry import RPCTelemetry

    RPCTelemetry("in_flight_client_only", "local")
    server = RPCTelemetry("in_flight_server", "local", server=True)
    server.jobs_in_flight = 2
    assert telemetry.points("soa.server.jobs.in_flight", **{"rpc.service": "in_flight_client_only"}) == []
    assert telemetry.total("soa.server.jobs.in_flight", **{"rpc.service": "in_flight_server"}) == 2


def test_soa_core_event_counters_become_one_opentelemetry_counter(telemetry: Telemetry, tmp_path: Path) -> None:
    """Events counted through the ``metrics`` setting (a malformed request here) show up as ``soa.events``."""
    event = {"soa.event": "server.error.malformed_request"}
    transport_event = {"soa.event": "transport.redis.server.receive.invalid_message"}
    before = telemetry.total("soa.events", **event)
    transport_before = telemetry.total("soa.events", **transport_event)
    redis_server = start_redis(tmp_path)
    try:
        settings = {
            "transport": {"name": "redis", "kwargs": {"url": redis_server.url, "receive_timeout_in_seconds": 1}},
            "metrics": {"path": "soa_otel.metrics:OTelMetricsRecorder"},
        }
        server = BackServer(settings)
        assert isinstance(server.metrics, OTelMetricsRecorder)
        redis_server.client().rpush(f"pysoa:service.{BACK}", b"\xc1\xc1\xc1")  # not MessagePack: dropped, counted
        server.handle_next_request()
        server.transport.close()
    finally:
        reset_backends()
        redis_server.stop()
    assert telemetry.total("soa.events", **event) == before + 1
    assert telemetry.total("soa.events", **transport_event) == transport_before + 1
