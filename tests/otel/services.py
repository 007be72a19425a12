"""Two services for the soa-otel tests: ``otel_front`` relays to ``otel_back`` through ``request.client``.

The front server's client routing comes from its settings (``client_routing``), so the same classes
serve over the local transport in this process and over Redis in worker subprocesses.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import baggage, trace

from pysoa.common.types import Error
from pysoa.errors import ActionError, JobError
from pysoa.server import Server
from pysoa.server.middleware import ServerMiddleware
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest

FRONT = "otel_front"
BACK = "otel_back"


def hello(request: EnrichedActionRequest) -> dict[str, Any]:
    logging.getLogger("tests.otel.services").info("hello from %s", request.action)
    span = trace.get_current_span().get_span_context()
    return {
        "hello": request.body.get("name", "world"),
        "tenant": baggage.get_baggage("tenant"),
        "trace_id": format(span.trace_id, "032x"),
        "context_keys": sorted(request.context),
    }


def fail(request: EnrichedActionRequest) -> dict[str, Any]:
    raise ActionError(errors=[Error(code="NOPE", message="fail was asked to fail", field="x")])


def crash(request: EnrichedActionRequest) -> dict[str, Any]:
    raise ZeroDivisionError("crash was asked to crash")


class BackServer(Server):
    service_name = BACK
    action_class_map = {"hello": hello, "fail": fail, "crash": crash}


def relay(request: EnrichedActionRequest) -> dict[str, Any]:
    """Calls ``otel_back.<action>`` (``hello`` unless the body names another) and returns its body."""
    assert request.client is not None
    response = request.client.call_action(
        BACK, request.body.get("action", "hello"), {"name": "front"}, raise_action_errors=False, timeout=10
    )
    return {"back": response.body, "back_errors": [error.code for error in response.errors]}


class FrontServer(Server):
    service_name = FRONT
    action_class_map = {"relay": relay, "hello": hello}


class RefuseJobs(ServerMiddleware):
    """Job middleware that fails every job with a job error (for the job-error tests)."""

    name = "otel-test-refuse"

    def job(self, process_job: Any) -> Any:
        def refuse(job_request: EnrichedJobRequest) -> Any:
            raise JobError(errors=[Error(code="REFUSED", message="refused")])

        return refuse
