"""An ``otel_front`` with ``async def`` actions, for the soa-otel asyncio tests (``otel_back`` stays sync).

``relay`` calls ``otel_back`` with ``await request.client.call_action(...)``. ``rendezvous`` returns
only once ``parties`` jobs are inside it at the same time (else it fails): it proves that the jobs a
test sends ran concurrently, in one worker, before it looks at their spans.
"""

from __future__ import annotations

import asyncio
from typing import Any

from opentelemetry import trace

from pysoa.common.types import Error
from pysoa.errors import ActionError
from pysoa.server import Server
from pysoa.server.types import EnrichedActionRequest

from .services import BACK, FRONT

_arrivals: dict[str, int] = {}
_all_there: dict[str, asyncio.Event] = {}


def _current_ids() -> dict[str, str]:
    span = trace.get_current_span().get_span_context()
    return {"trace_id": format(span.trace_id, "032x"), "span_id": format(span.span_id, "016x")}


async def relay(request: EnrichedActionRequest) -> dict[str, Any]:
    assert request.client is not None
    response = await request.client.call_action(
        BACK, request.body.get("action", "hello"), {"name": "front"}, raise_action_errors=False, timeout=10
    )
    return {"back": response.body, "back_errors": [error.code for error in response.errors], **_current_ids()}


async def rendezvous(request: EnrichedActionRequest) -> dict[str, Any]:
    group, parties = request.body["group"], request.body["parties"]
    event = _all_there.setdefault(group, asyncio.Event())
    _arrivals[group] = _arrivals.get(group, 0) + 1
    if _arrivals[group] == parties:
        event.set()
    try:
        await asyncio.wait_for(event.wait(), 10)
    except TimeoutError:
        raise ActionError(errors=[Error(code="ALONE", message="the other jobs never came")]) from None
    # After the wait, the current span must still be this job's own action span.
    ids = _current_ids()
    assert request.client is not None
    back = await request.client.call_action(BACK, "hello", {"name": group}, timeout=10)
    return {**ids, "back_trace_id": back.body["trace_id"]}


class AsyncFrontServer(Server):
    service_name = FRONT
    action_class_map = {"relay": relay, "rendezvous": rendezvous}
